
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: an exporter's Prometheus page.  The first byte picks
 * the device asked for (none, "0", "card0", "GPU-aaaa"); the rest is the
 * page.  Any bytes must give either no reading or one within bounds.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_prom_parse.h"


static const char  *devices[] = { "", "0", "card0", "GPU-aaaa" };


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char                *page;
    const char          *device, *err;
    ngx_llm_prom_gpu_t   g;

    if (size == 0) {
        return 0;
    }

    device = devices[data[0] % 4];

    /* a copy of exactly the page's size, so ASan sees any over-read */
    page = malloc(size - 1 ? size - 1 : 1);
    if (page == NULL) {
        return 0;
    }

    memcpy(page, data + 1, size - 1);

    err = NULL;

    if (ngx_llm_prom_gpu(page, size - 1, device, strlen(device), &g, &err)
        == 0)
    {
        if (g.total == 0 || g.used > g.total || g.exporter == NULL
            || ((g.have & NGX_LLM_PROM_BUSY) && g.busy > 100))
        {
            abort();
        }

    } else if (err == NULL) {
        abort();
    }

    free(page);

    return 0;
}
