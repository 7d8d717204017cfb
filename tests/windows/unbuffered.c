/*
 * unbuffered.c - linked into every unit test built for Windows
 * (make windows-check). Under Wine a test's stdout is a pipe, which msvcrt
 * buffers whole; a test program that dies before exit() would take all its
 * cmocka lines with it and leave only an exit status. Unbuffered, the log
 * shows how far it got.
 */
#include <stdio.h>

void cdr_test_stdout_unbuffered(void) __attribute__((constructor));

void cdr_test_stdout_unbuffered(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
}
