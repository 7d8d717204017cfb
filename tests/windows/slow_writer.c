/*
 * slow_writer.c - a Windows program for the Wine end-to-end tests: writes
 * a file the way a PBX download tool might, holding it open (denying
 * other writers) while it pauses between two halves, so that the watch
 * backend must not take the half it has seen.
 *
 *   slow_writer.exe SOURCE TARGET PAUSE_MS
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: slow_writer SOURCE TARGET PAUSE_MS\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in)
        return 1;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    HANDLE h = CreateFileA(argv[2], GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 1;
    DWORD w;
    size_t half = n / 2;
    if (!WriteFile(h, buf, (DWORD)half, &w, NULL))
        return 1;
    FlushFileBuffers(h);
    Sleep((DWORD)atoi(argv[3]));
    if (!WriteFile(h, buf + half, (DWORD)(n - half), &w, NULL))
        return 1;
    CloseHandle(h);
    return 0;
}
