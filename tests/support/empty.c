/* keeps the support library non-empty */
int ik_test_support_empty;
