#include "cli/cli.h"

int main(int argc, char **argv) { return lkb_cli_main(argc, argv); }
