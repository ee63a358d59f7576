/* SPDX-License-Identifier: MIT */
/* Small helpers every iommukit source file may use. */
#ifndef IK_COMPILER_H
#define IK_COMPILER_H

#include <stddef.h>
#include <stdint.h>
#include <endian.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define BIT(n)      (1UL << (n))
#define BIT_ULL(n)  (1ULL << (n))
/* Bits h..l inclusive, as Linux's GENMASK_ULL. */
#define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#define GENMASK(h, l)     ((uint32_t)GENMASK_ULL(h, l))

#define IS_ALIGNED(x, a)  ((((uint64_t)(x)) & ((uint64_t)(a) - 1)) == 0)
#define ALIGN_DOWN(x, a)  ((x) & ~((__typeof__(x))(a) - 1))
#define ALIGN_UP(x, a)    ALIGN_DOWN((x) + (a) - 1, (a))

#define ik_min(a, b) ((a) < (b) ? (a) : (b))
#define ik_max(a, b) ((a) > (b) ? (a) : (b))

#define IK_PAGE_SHIFT 12
#define IK_PAGE_SIZE  (1UL << IK_PAGE_SHIFT)

/* Index of the lowest / highest set bit; x must be non-zero. */
static inline unsigned int ik_ffs64(uint64_t x) { return (unsigned int)__builtin_ctzll(x); }
static inline unsigned int ik_fls64(uint64_t x) { return 63u - (unsigned int)__builtin_clzll(x); }

/*
 * Hardware-visible words. Page-table entries are read by the hardware
 * models' walkers while drivers write them, as on silicon, so every access
 * is atomic, in the byte order the hardware defines. Stores release and
 * loads acquire (plain moves on x86): whoever reads an entry also sees what
 * its writer did before, which is what lets a thread that finds an entry
 * gone free the table it was in after another thread wrote it.
 */
static inline uint32_t ik_read_le32(const uint32_t *p)
{
	return le32toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}
static inline void ik_write_le32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, htole32(v), __ATOMIC_RELEASE);
}
static inline uint64_t ik_read_le64(const uint64_t *p)
{
	return le64toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}
static inline void ik_write_le64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, htole64(v), __ATOMIC_RELEASE);
}
/* Load that orders later loads of the table it points to (publication). */
static inline uint32_t ik_read_le32_acquire(const uint32_t *p)
{
	return le32toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}
static inline uint64_t ik_read_le64_acquire(const uint64_t *p)
{
	return le64toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}
/* Publish a table entry: the table's zeroed contents become visible first. */
static inline int ik_cmpxchg_le32(uint32_t *p, uint32_t old, uint32_t new_)
{
	uint32_t o = htole32(old);
	return __atomic_compare_exchange_n(p, &o, htole32(new_), 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline int ik_cmpxchg_le64(uint64_t *p, uint64_t old, uint64_t new_)
{
	uint64_t o = htole64(old);
	return __atomic_compare_exchange_n(p, &o, htole64(new_), 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

#endif /* IK_COMPILER_H */
