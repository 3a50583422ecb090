/*
 * cmd_demo.c - `fleetca demo`: a data directory in a temporary folder,
 * served on free local ports.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "server/app.h"
#include "server/cli.h"
#include "server/conf.h"
#include "server/serve.h"

int
cmd_demo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_fail("demo: not built yet");
	return EXIT_REFUSED;
}
