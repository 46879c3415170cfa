/* A shared object that is not an lkb plugin at all. */
__attribute__((visibility("default"))) int some_function(void);
int some_function(void) { return 42; }
