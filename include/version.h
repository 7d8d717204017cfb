/*
 * version.h - what `cdrimport --version` prints: the program's version and
 * the versions of the libraries it runs with, as a bug report needs them.
 */
#ifndef CDR_VERSION_H
#define CDR_VERSION_H

#include <stdio.h>

void version_print(FILE *out);

#endif
