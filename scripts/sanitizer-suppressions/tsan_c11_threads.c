// LD_PRELOADed by scripts/sanitize.sh for the TSan run. Debian's librdkafka uses C11 threads
// (thrd_create, mtx_lock, cnd_wait); glibc implements them by calling its pthread internals
// directly, and GCC 12's TSan runtime has no interceptors for them. So TSan never saw librdkafka's
// threads start (the first malloc in one crashed TSan: SEGV in its allocator, thread "rdk:mock")
// nor its locks. These wrappers route each C11 call through the public pthread function, which
// TSan intercepts. Nothing is suppressed; every call keeps C11 semantics (glibc's mtx_t and cnd_t
// are pthread_mutex_t and pthread_cond_t underneath).
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int Result(int rc) {
  return rc == 0 ? thrd_success : rc == ENOMEM ? thrd_nomem : rc == EBUSY ? thrd_busy
                 : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

struct Start {
  thrd_start_t fn;
  void* arg;
};

static void* Trampoline(void* p) {
  struct Start s = *(struct Start*)p;
  free(p);
  return (void*)(intptr_t)s.fn(s.arg);
}

int thrd_create(thrd_t* t, thrd_start_t fn, void* arg) {
  struct Start* s = malloc(sizeof *s);
  if (!s) return thrd_nomem;
  s->fn = fn;
  s->arg = arg;
  int rc = pthread_create((pthread_t*)t, NULL, Trampoline, s);
  if (rc != 0) free(s);
  return Result(rc);
}
int thrd_join(thrd_t t, int* res) {
  void* r = NULL;
  int rc = pthread_join((pthread_t)t, &r);
  if (rc == 0 && res) *res = (int)(intptr_t)r;
  return Result(rc);
}
int thrd_detach(thrd_t t) { return Result(pthread_detach((pthread_t)t)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init((pthread_mutex_t*)m, &a);
  pthread_mutexattr_destroy(&a);
  return Result(rc);
}
int mtx_lock(mtx_t* m) { return Result(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return Result(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict ts) {
  return Result(pthread_mutex_timedlock((pthread_mutex_t*)m, ts));
}
int mtx_unlock(mtx_t* m) { return Result(pthread_mutex_unlock((pthread_mutex_t*)m)); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return Result(pthread_cond_init((pthread_cond_t*)c, NULL)); }
int cnd_signal(cnd_t* c) { return Result(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return Result(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) { return Result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m)); }
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  return Result(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, ts));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }

void call_once(once_flag* flag, void (*fn)(void)) { pthread_once((pthread_once_t*)flag, fn); }
