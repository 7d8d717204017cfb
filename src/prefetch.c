/*
 * prefetch.c - one helper thread that claims the next file of a run (see
 * prefetch.h). It holds at most one claim; a claim not taken is dropped
 * (input_close releases its lock), so a run that stops leaves every file
 * it did not import where it was, unlocked.
 */
#include "prefetch.h"
#include "input.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct prefetch {
    const struct file_opts *o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *path;             /* the file asked for, or being claimed */
    bool asked;             /* path waits for the helper */
    bool claimed;           /* done: early holds path's claim, or why not */
    struct file_early early;
    bool quit;
};

static void *helper_main(void *arg)
{
    struct prefetch *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->asked && !p->quit)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit)
            break;
        const char *path = p->path;
        pthread_mutex_unlock(&p->mu);
        struct file_early e;
        file_claim_early(path, p->o, &e);
        pthread_mutex_lock(&p->mu);
        p->early = e;
        p->claimed = true;
        p->asked = false;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct prefetch *prefetch_create(const struct file_opts *o)
{
    struct prefetch *p = xcalloc(1, sizeof *p);
    p->o = o;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, helper_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    return p;
}

/* Wait for the helper to be done with its path; under mu. */
static void wait_done(struct prefetch *p)
{
    while (p->asked)
        pthread_cond_wait(&p->cv, &p->mu);
}

/* Drop what the helper holds; under mu, the helper idle. */
static void drop(struct prefetch *p)
{
    if (p->claimed)
        input_close(p->early.in); /* safe on NULL */
    p->claimed = false;
    free(p->path);
    p->path = NULL;
}

void prefetch_start(struct prefetch *p, const char *path)
{
    pthread_mutex_lock(&p->mu);
    wait_done(p);
    drop(p);
    p->path = xstrdup(path);
    p->asked = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool prefetch_take(struct prefetch *p, const char *path, struct file_early *e)
{
    pthread_mutex_lock(&p->mu);
    wait_done(p);
    bool ours = p->claimed && strcmp(p->path, path) == 0;
    if (ours) {
        *e = p->early;
        p->claimed = false;
    }
    drop(p);
    pthread_mutex_unlock(&p->mu);
    return ours;
}

void prefetch_destroy(struct prefetch *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    wait_done(p);
    drop(p);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
