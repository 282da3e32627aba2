
/*
 * Copyright (C) ngx_llm_router authors
 *
 * What the C benchmarks time with: the CPU time of the calling thread
 * (what the machine's other work adds least to), and a comparison for
 * qsort() of doubles, for medians.
 */


#ifndef _BENCH_TIME_H_INCLUDED_
#define _BENCH_TIME_H_INCLUDED_


#include <time.h>


static inline double
bench_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}


static inline int
bench_cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


#endif /* _BENCH_TIME_H_INCLUDED_ */
