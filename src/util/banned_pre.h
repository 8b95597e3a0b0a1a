/*
 * banned_pre.h: force-included into every translation unit (Makefile
 * -include).  It pulls in the system headers that declare the banned
 * functions first, so their declarations are seen before banned.h turns the
 * names into compile errors for our own code.
 */
#ifndef PROBE_UTIL_BANNED_PRE_H
#define PROBE_UTIL_BANNED_PRE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/banned.h"
#endif
