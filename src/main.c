/* main.c: main() only; everything else is reachable from the unit tests. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
