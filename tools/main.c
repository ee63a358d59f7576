// SPDX-License-Identifier: MIT
/* iommukit: the command-line front end. */
#include <stdio.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *out)
{
	fputs("usage: iommukit <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run    run the built-in workload on the default OMAP3 machine and report\n"
	      "  dump   set up the built-in scenario and print its domains' page tables\n"
	      "\n"
	      "'iommukit <command> --help' describes a command's options.\n"
	      "exit status: 0 ok, 1 failed, 2 usage error\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "iommukit: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
