/*
 * test_finish.c - finish.c on real temp folders: move (unique names, the
 * sub-path below the source's folder kept), delete and keep; a failed
 * file moved to failed_dir with its <name>.error note; a file already gone
 * (return 1); and the copy fallback when rename(2) says EXDEV, from /tmp to
 * a tmpfs (/dev/shm), skipped with a message where there is no second file
 * system; a delete's leftover (a killed importer's hidden name) named back
 * only when its process is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "finish.h"
#include "testutil.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char src_name[] = "pbx";

/* A fresh folder under base with in/ below it, and a source whose
 * processed_dir and failed_dir are beside in/ (under dest_base if given). */
struct scene {
    char *dir, *dest_dir;
    struct cdr_source src;
};

static bool scene_open(struct scene *s, const char *base, const char *dest_base,
                       enum cdr_on_success on_success)
{
    memset(s, 0, sizeof *s);
    s->dir = xasprintf("%s/test_finish.XXXXXX", base);
    if (!mkdtemp(s->dir))
        return false;
    if (dest_base) {
        s->dest_dir = xasprintf("%s/test_finish.XXXXXX", dest_base);
        if (!mkdtemp(s->dest_dir))
            return false;
    }
    const char *d = dest_base ? s->dest_dir : s->dir;
    s->src = (struct cdr_source){.name = src_name, .path = xasprintf("%s/in", s->dir),
                                 .on_success = on_success,
                                 .processed_dir = xasprintf("%s/processed", d),
                                 .failed_dir = xasprintf("%s/failed", d)};
    return mkdir(s->src.path, 0700) == 0;
}

static void scene_close(struct scene *s)
{
    if (s->dir)
        rm_tree(s->dir);
    if (s->dest_dir)
        rm_tree(s->dest_dir);
    free(s->dir);
    free(s->dest_dir);
    free(s->src.path);
    free(s->src.processed_dir);
    free(s->src.failed_dir);
}

/* A file below the scene's folder (parents made), its text its own name. */
static char *scene_file(struct scene *s, const char *rel)
{
    char *path = xasprintf("%s/%s", s->dir, rel);
    for (char *c = path + strlen(s->dir) + 1; (c = strchr(c, '/')) != NULL; c++) {
        *c = '\0';
        mkdir(path, 0700);
        *c = '/';
    }
    put_file(path, rel);
    return path;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void assert_file_text(const char *path, const char *want)
{
    size_t len;
    char *got = slurp(path, &len);
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("%s holds '%.*s', want '%s'", path, (int)len, got, want);
    free(got);
}

/* ---- the table ------------------------------------------------------------ */

struct fcase {
    const char *name;
    enum cdr_on_success on_success;
    bool failed;       /* finish_failed; else finish_success */
    const char *file;  /* relative to the scene */
    bool gone;         /* not created: another importer took it */
    const char *sha;
    int rc;
    const char *dest;  /* fnmatch pattern relative to the scene; NULL: no dest */
    bool stays;        /* the file is still where it was */
};

#define STAMP "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z"

static const struct fcase cases[] = {
    {"move keeps the sub-path", CDR_ON_SUCCESS_MOVE, false, "in/sub/deep/Master.csv", false, SHA,
     0, "processed/sub/deep/Master." STAMP ".0123456789ab.csv", false},
    {"move from the source's folder", CDR_ON_SUCCESS_MOVE, false, "in/Master.csv", false, SHA, 0,
     "processed/Master." STAMP ".0123456789ab.csv", false},
    {"move without a checksum", CDR_ON_SUCCESS_MOVE, false, "in/Master.csv", false, NULL, 0,
     "processed/Master." STAMP ".nochecksum.csv", false},
    {"move a name with two dots", CDR_ON_SUCCESS_MOVE, false, "in/cdr.2024.CSV", false, SHA, 0,
     "processed/cdr.2024." STAMP ".0123456789ab.CSV", false},
    {"move a name without extension", CDR_ON_SUCCESS_MOVE, false, "in/CDR", false, SHA, 0,
     "processed/CDR." STAMP ".0123456789ab", false},
    /* A compressed file keeps its two-part extension (packed downloads). */
    {"move a .tar.gz", CDR_ON_SUCCESS_MOVE, false, "in/Master.tar.gz", false, SHA, 0,
     "processed/Master." STAMP ".0123456789ab.tar.gz", false},
    {"move a .csv.GZ", CDR_ON_SUCCESS_MOVE, false, "in/Master.csv.GZ", false, SHA, 0,
     "processed/Master." STAMP ".0123456789ab.csv.GZ", false},
    {"move a .tar.xz with dots before", CDR_ON_SUCCESS_MOVE, false, "in/cdr.2024.tar.xz", false,
     SHA, 0, "processed/cdr.2024." STAMP ".0123456789ab.tar.xz", false},
    {"a long part before .gz is the stem", CDR_ON_SUCCESS_MOVE, false, "in/Master.backup.gz",
     false, SHA, 0, "processed/Master.backup." STAMP ".0123456789ab.gz", false},
    {"failed: a .tgz", CDR_ON_SUCCESS_MOVE, true, "in/Master.tgz", false, SHA, 0,
     "failed/Master." STAMP ".0123456789ab.tgz", false},
    {"move, already gone", CDR_ON_SUCCESS_MOVE, false, "in/Master.csv", true, SHA, 1, NULL,
     false},
    {"delete", CDR_ON_SUCCESS_DELETE, false, "in/sub/Master.csv", false, SHA, 0, NULL, false},
    {"delete, already gone", CDR_ON_SUCCESS_DELETE, false, "in/Master.csv", true, SHA, 1, NULL,
     false},
    {"keep", CDR_ON_SUCCESS_KEEP, false, "in/sub/Master.csv", false, SHA, 0, NULL, true},
    {"failed: moved with a note", CDR_ON_SUCCESS_MOVE, true, "in/sub/Master.csv", false, SHA, 0,
     "failed/sub/Master." STAMP ".0123456789ab.csv", false},
    {"failed moves even with on_success delete", CDR_ON_SUCCESS_DELETE, true, "in/Master.csv",
     false, SHA, 0, "failed/Master." STAMP ".0123456789ab.csv", false},
    {"failed, already gone", CDR_ON_SUCCESS_MOVE, true, "in/Master.csv", true, SHA, 1, NULL,
     false},
};

#define REASON "field 9 (start): impossible date '2023-02-30 10:00:00'"

static void run_case(void **state)
{
    const struct fcase *c = *state;
    struct scene s;
    if (!scene_open(&s, "/tmp", NULL, c->on_success))
        fail_msg("cannot set up a scene under /tmp");
    char *path = c->gone ? xasprintf("%s/%s", s.dir, c->file) : scene_file(&s, c->file);
    char *dest = (char *)"untouched";
    char err[CDR_ERRLEN] = "";

    int rc = c->failed
        ? finish_failed(&s.src, s.src.path, path, c->sha, REASON, &dest, err, sizeof err)
        : finish_success(&s.src, s.src.path, path, c->sha, &dest, err, sizeof err);
    if (rc != c->rc)
        fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc, err);
    if (c->dest) {
        char *pattern = xasprintf("%s/%s", s.dir, c->dest);
        if (!dest || fnmatch(pattern, dest, FNM_PATHNAME) != 0)
            fail_msg("%s: moved to %s, want %s", c->name, dest ? dest : "(nowhere)", pattern);
        assert_file_text(dest, c->file);
        free(pattern);
    } else {
        assert_null(dest);
    }
    assert_int_equal(exists(path), c->stays);

    if (c->failed && c->dest) {
        char *note = xasprintf("%s.error", dest);
        size_t len;
        char *text = slurp(note, &len);
        char *want_file = xasprintf("file: %s\n", path);
        assert_non_null(strstr(text, want_file));
        assert_non_null(strstr(text, "source: pbx\n"));
        assert_non_null(strstr(text, "sha256: " SHA "\n"));
        assert_non_null(strstr(text, "reason: " REASON "\n"));
        free(want_file);
        free(text);
        free(note);
    }
    if (c->failed && !c->dest) { /* no note for a file that is gone */
        char *notes = xasprintf("%s/Master.*.error", s.src.failed_dir);
        glob_t g;
        int found = glob(notes, 0, NULL, &g);
        globfree(&g);
        free(notes);
        assert_int_equal(found, GLOB_NOMATCH);
    }
    if (!c->failed && c->on_success != CDR_ON_SUCCESS_MOVE)
        assert_false(exists(s.src.processed_dir));
    free(dest);
    free(path);
    scene_close(&s);
}

/* ---- unique names ----------------------------------------------------------- */

/* Every download is called Master.csv: three of them, with the same
 * checksum, into the same folder, one after another. */
static void test_same_names(void **state)
{
    (void)state;
    struct scene s;
    if (!scene_open(&s, "/tmp", NULL, CDR_ON_SUCCESS_MOVE))
        fail_msg("cannot set up a scene under /tmp");
    char *dest[3] = {NULL, NULL, NULL};
    char err[CDR_ERRLEN] = "";
    static const char *const texts[3] = {"first", "second", "third"};

    for (int i = 0; i < 3; i++) {
        char *path = scene_file(&s, "in/Master.csv");
        put_file(path, texts[i]);
        if (finish_success(&s.src, s.src.path, path, SHA, &dest[i], err, sizeof err) != 0)
            fail_msg("move %d: %s", i, err);
        assert_false(exists(path));
        free(path);
    }
    for (int i = 0; i < 3; i++) {
        assert_file_text(dest[i], texts[i]); /* none overwrote another */
        for (int j = 0; j < i; j++)
            assert_string_not_equal(dest[i], dest[j]);
    }
    /* Within one second the names differ by a number: "-2" before ".csv". */
    size_t n0 = strlen(dest[0]);
    if (strlen(dest[1]) == n0 + 2 && strncmp(dest[0], dest[1], n0 - 4) == 0)
        assert_string_equal(dest[1] + n0 - 4, "-2.csv");
    for (int i = 0; i < 3; i++)
        free(dest[i]);
    scene_close(&s);
}

/* ---- across file systems ------------------------------------------------------ */

/* rename(2) cannot cross file systems (EXDEV): finish copies, fsyncs and
 * unlinks instead. /tmp is on disk here and /dev/shm a tmpfs; where they
 * are one file system (or /dev/shm is missing) there is nothing to test. */
static void test_across_file_systems(void **state)
{
    (void)state;
    struct stat a, b;
    if (stat("/tmp", &a) < 0 || stat("/dev/shm", &b) < 0 || access("/dev/shm", W_OK) < 0) {
        print_message("SKIP: no writable /dev/shm, so no second file system: the EXDEV "
                      "copy fallback is not tested\n");
        skip();
    }
    if (a.st_dev == b.st_dev) {
        print_message("SKIP: /tmp and /dev/shm are one file system: the EXDEV copy fallback "
                      "is not tested\n");
        skip();
    }

    struct scene s;
    if (!scene_open(&s, "/tmp", "/dev/shm", CDR_ON_SUCCESS_MOVE))
        fail_msg("cannot set up a scene under /tmp and /dev/shm");
    char err[CDR_ERRLEN] = "";
    char *dest[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) { /* twice: the second copy must not overwrite */
        char *path = scene_file(&s, "in/sub/Master.csv");
        put_file(path, i ? "second" : "first");
        if (finish_success(&s.src, s.src.path, path, SHA, &dest[i], err, sizeof err) != 0)
            fail_msg("move %d across file systems: %s", i, err);
        assert_false(exists(path));
        free(path);
    }
    char *pattern = xasprintf("%s/processed/sub/Master." STAMP ".0123456789ab*.csv",
                              s.dest_dir);
    for (int i = 0; i < 2; i++) {
        if (fnmatch(pattern, dest[i], FNM_PATHNAME) != 0)
            fail_msg("moved to %s, want %s", dest[i], pattern);
        struct stat st;
        assert_int_equal(stat(dest[i], &st), 0);
        assert_int_equal(st.st_dev, b.st_dev);
    }
    assert_string_not_equal(dest[0], dest[1]);
    assert_file_text(dest[0], "first");
    assert_file_text(dest[1], "second");

    /* A failed file too, with its note beside it on the other side. */
    char *path = scene_file(&s, "in/Master.csv");
    char *fdest = NULL;
    if (finish_failed(&s.src, s.src.path, path, SHA, "broken", &fdest, err, sizeof err) != 0)
        fail_msg("failed file across file systems: %s", err);
    assert_false(exists(path));
    assert_file_text(fdest, "in/Master.csv");
    char *note = xasprintf("%s.error", fdest);
    assert_true(exists(note));

    free(note);
    free(fdest);
    free(path);
    free(pattern);
    free(dest[0]);
    free(dest[1]);
    scene_close(&s);
}

/* A destination that cannot be made is an error, and the file stays. */
static void test_dest_not_creatable(void **state)
{
    (void)state;
    struct scene s;
    if (!scene_open(&s, "/tmp", NULL, CDR_ON_SUCCESS_MOVE))
        fail_msg("cannot set up a scene under /tmp");
    char *blocker = scene_file(&s, "processed"); /* a file where the folder goes */
    char *path = scene_file(&s, "in/Master.csv");
    char *dest = NULL;
    char err[CDR_ERRLEN] = "";
    assert_int_equal(finish_success(&s.src, s.src.path, path, SHA, &dest, err, sizeof err), -1);
    assert_null(dest);
    if (!strstr(err, blocker))
        fail_msg("error \"%s\" does not name %s", err, blocker);
    assert_true(exists(path));
    free(path);
    free(blocker);
    scene_close(&s);
}

/* ---- a delete's leftover ------------------------------------------------------ */

/* The id of a process that has ended (reaped: no other process has it
 * until the kernel's pids wrap). */
static long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    assert_true(pid > 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return (long)pid;
}

/* ".<name>.cdrimport-delete-<pid>-<time>": named back once it is 5 s old
 * and its process is gone, or once it is 15 minutes old whatever the pid;
 * left alone before, when <name> exists again, and for any name that is
 * not one (each made as a real file: a misparse would rename it). */
static void test_restore_leftover(void **state)
{
    (void)state;
    enum who { DEAD, MINE, ALIVE };
    static const struct {
        enum who who;
        long long age; /* now - <time>; LLONG_MIN: a name without its time */
        bool back;
    } leftovers[] = {
        {DEAD, 10, true},      {DEAD, 4, false},      /* a delete may still be in flight */
        {DEAD, -3, false},     {DEAD, -3600, true},   /* a clock far off */
        {MINE, 10, false},     {MINE, 900, true},     /* pid 1 again after a restart */
        {ALIVE, 60, false},    {ALIVE, 900, true},    /* a reused pid, another host's */
        {ALIVE, LLONG_MIN, true},                     /* an earlier version's name */
    };
    long long now = (long long)time(NULL);
    struct scene s;
    if (!scene_open(&s, "/tmp", NULL, CDR_ON_SUCCESS_DELETE))
        fail_msg("cannot set up a scene under /tmp");
    for (size_t i = 0; i < sizeof leftovers / sizeof *leftovers; i++) {
        long pid = leftovers[i].who == DEAD ? dead_pid()
                   : leftovers[i].who == MINE ? (long)getpid() : (long)getppid();
        char stamp[32] = "";
        if (leftovers[i].age != LLONG_MIN)
            snprintf(stamp, sizeof stamp, "-%lld", now - leftovers[i].age);
        char *rel = xasprintf("in/.M%zu.csv.cdrimport-delete-%ld%s", i, pid, stamp);
        char *hidden = scene_file(&s, rel);
        char *want = xasprintf("%s/in/M%zu.csv", s.dir, i);
        assert_true(finish_is_leftover(strrchr(hidden, '/') + 1));
        char *back = finish_restore_leftover(s.src.path, strrchr(hidden, '/') + 1, now);
        if (!leftovers[i].back != !back)
            fail_msg("case %zu (%s): named back: %s", i, rel, back ? "yes" : "no");
        if (back) {
            assert_string_equal(back, want);
            assert_false(exists(hidden));
            assert_file_text(want, rel); /* the same file, named back */
        } else {
            assert_true(exists(hidden));
            assert_false(exists(want));
        }
        free(back);
        free(want);
        free(hidden);
        free(rel);
    }

    /* <name> is there again: both stay */
    char *rel = xasprintf("in/.Master.csv.cdrimport-delete-%ld-%lld", dead_pid(), now - 60);
    char *hidden = scene_file(&s, rel), *there = scene_file(&s, "in/Master.csv");
    assert_null(finish_restore_leftover(s.src.path, strrchr(hidden, '/') + 1, now));
    assert_file_text(hidden, rel);
    assert_file_text(there, "in/Master.csv");

    /* not a leftover, even when long due */
    static const char *const others[] = {
        ".hidden.csv", ".x.cdrimport-delete-", ".x.cdrimport-delete-12a",
        ".cdrimport-delete-5", "..cdrimport-delete-5", "...cdrimport-delete-5",
        "x.cdrimport-delete-5", ".x.cdrimport-delete--5", ".x.cdrimport-delete-0",
        ".x.cdrimport-delete-2147483648", ".x.cdrimport-delete-5-", ".x.cdrimport-delete-5-1x",
        ".x.cdrimport-delete-5-0"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        char *o = xasprintf("in/%s", others[i]);
        char *path = scene_file(&s, o);
        if (finish_is_leftover(others[i]))
            fail_msg("'%s' taken for a leftover", others[i]);
        assert_null(finish_restore_leftover(s.src.path, others[i], now + 86400));
        assert_file_text(path, o);
        free(path);
        free(o);
    }
    /* a folder named like one: a delete never makes it */
    char *folder = xasprintf("%s/in/.F.cdrimport-delete-%ld-%lld", s.dir, dead_pid(), now - 60);
    assert_int_equal(mkdir(folder, 0700), 0);
    assert_null(finish_restore_leftover(s.src.path, strrchr(folder, '/') + 1, now));
    assert_true(exists(folder));
    free(folder);
    /* <name> may hold the mark itself: the last one counts */
    assert_true(finish_is_leftover(".a.cdrimport-delete-7.cdrimport-delete-5-1700000000"));
    free(rel);
    free(hidden);
    free(there);
    scene_close(&s);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_same_names),
        cmocka_unit_test(test_across_file_systems),
        cmocka_unit_test(test_dest_not_creatable),
        cmocka_unit_test(test_restore_leftover),
    };
    RUN_TABLE_THEN_FIXED(cases, run_case, fixed, NULL, NULL);
}
