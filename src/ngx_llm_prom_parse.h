
/*
 * Copyright (C) ngx_llm_router authors
 *
 * One GPU's reading from a Prometheus text page (exposition format
 * 0.0.4) served by a GPU exporter: AMD's device-metrics-exporter,
 * NVIDIA's dcgm-exporter or node_exporter's drm collector.  Pure C.
 */


#ifndef _NGX_LLM_PROM_PARSE_H_INCLUDED_
#define _NGX_LLM_PROM_PARSE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_LLM_PROM_BUSY     0x01
#define NGX_LLM_PROM_TEMP     0x02
#define NGX_LLM_PROM_POWER    0x04


typedef struct {
    unsigned            have;       /* NGX_LLM_PROM_BUSY, _TEMP, _POWER */
    uint64_t            used;       /* bytes */
    uint64_t            total;      /* bytes */
    uint64_t            busy;       /* percent, 0 to 100 */
    uint64_t            temp;       /* millidegrees Celsius */
    uint64_t            power;      /* microwatts */
    const char         *exporter;   /* whose metric names gave the VRAM */
} ngx_llm_prom_gpu_t;


/*
 * Reads the GPU whose "gpu", "gpu_id", "card", "device", "UUID",
 * "gpu_uuid" or "uuid" label is "device" (device_len 0: the first GPU the
 * page names) from the page text.  Returns 0 when the page gave its VRAM
 * used and total (total above 0, used not above it); -1 otherwise, with
 * *err saying why.  A page with a line that is not Prometheus text is
 * rejected whole, like Prometheus does.
 */
int ngx_llm_prom_gpu(const char *text, size_t len, const char *device,
    size_t device_len, ngx_llm_prom_gpu_t *gpu, const char **err);


#endif /* _NGX_LLM_PROM_PARSE_H_INCLUDED_ */
