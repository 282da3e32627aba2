
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A minimal unit test harness: CHECK() counts, main() prints the summary.
 */


#ifndef _UNIT_H_INCLUDED_
#define _UNIT_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static int  unit_passed;
static int  unit_failed;


#define CHECK(cond, name)                                                     \
    do {                                                                      \
        if (cond) {                                                           \
            unit_passed++;                                                    \
                                                                              \
        } else {                                                              \
            unit_failed++;                                                    \
            printf("FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, name, #cond); \
        }                                                                     \
    } while (0)


#define UNIT_DONE(suite)                                                      \
    do {                                                                      \
        printf("%s: %d passed, %d failed\n", suite, unit_passed,              \
               unit_failed);                                                  \
        return unit_failed ? 1 : 0;                                           \
    } while (0)


#endif /* _UNIT_H_INCLUDED_ */
