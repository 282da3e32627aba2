
/*
 * Copyright (C) ngx_llm_router authors
 *
 * GPU probes.  Each worker arms a timer per GPU; at each interval the one
 * worker that wins the election in the shared zone reads the GPU and
 * stores the reading there.  Requests only read the zone.
 *
 *   sysfs:     amdgpu's mem_info_vram_used and mem_info_vram_total (and
 *              gpu_busy_percent when present) under device=DIR;
 *   rocm_smi:  rocm-smi-lib, loaded with dlopen() at the first poll, so
 *              the module loads and runs where ROCm or a GPU is missing;
 *   nvml:      NVIDIA's libnvidia-ml (library=PATH), loaded the same way,
 *              GPU index=N: nvmlDeviceGetMemoryInfo() (used, total),
 *              nvmlDeviceGetUtilizationRates() (gpu %),
 *              nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU) (Celsius),
 *              nvmlDeviceGetPowerUsage() (milliwatts); the structures and
 *              calls by NVML's documented C ABI, no NVML header needed;
 *   prometheus: a GPU on another host, read from its exporter's page
 *              (url=http://IP:PORT/PATH) with the module's non-blocking
 *              client (ngx_http_llm_fetch.c) and parsed by
 *              ngx_llm_prom_parse.c, where the metric names and units of
 *              AMD's device-metrics-exporter, dcgm-exporter and
 *              node_exporter's drm collector are listed; device= is the
 *              value of the GPU's gpu/gpu_id/card/device/UUID label.  A
 *              fetch still running at the next poll (timeout= above the
 *              interval) is left to finish: one at a time per worker.
 *
 * A library that fails to load or initialise is tried again a minute
 * later.  A probe that fails leaves VRAM unknown; the failure is logged
 * once per change of state, not at every poll.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dlfcn.h>

#include "ngx_http_llm_fetch.h"
#include "ngx_http_llm_state.h"
#include "ngx_http_llm_vram.h"
#include "ngx_http_llm_util.h"
#include "ngx_llm_prom_parse.h"


/* the few rocm-smi-lib entry points used, by their documented ABI */
typedef int (*ngx_rsmi_init_pt)(uint64_t flags);
typedef int (*ngx_rsmi_mem_pt)(uint32_t dev, int type, uint64_t *value);
typedef int (*ngx_rsmi_busy_pt)(uint32_t dev, uint32_t *percent);
typedef int (*ngx_rsmi_temp_pt)(uint32_t dev, uint32_t sensor, int metric,
    int64_t *value);
typedef int (*ngx_rsmi_power_pt)(uint32_t dev, uint32_t sensor,
    uint64_t *value);

#define NGX_RSMI_MEM_TYPE_VRAM    0
#define NGX_RSMI_TEMP_TYPE_EDGE   0
#define NGX_RSMI_TEMP_CURRENT     0
#define NGX_RSMI_RETRY            60000


/* NVML's, by its documented C ABI (nvml.h) */
typedef struct {
    unsigned long long    total;
    unsigned long long    free;
    unsigned long long    used;
} ngx_nvml_memory_t;


typedef struct {
    unsigned int          gpu;
    unsigned int          memory;
} ngx_nvml_utilization_t;


typedef int (*ngx_nvml_init_pt)(void);
typedef int (*ngx_nvml_handle_pt)(unsigned int index, void **device);
typedef int (*ngx_nvml_memory_pt)(void *device, ngx_nvml_memory_t *memory);
typedef int (*ngx_nvml_util_pt)(void *device, ngx_nvml_utilization_t *u);
typedef int (*ngx_nvml_temp_pt)(void *device, int sensor,
    unsigned int *temp);
typedef int (*ngx_nvml_power_pt)(void *device, unsigned int *milliwatts);

#define NGX_NVML_TEMPERATURE_GPU  0

#define NGX_HTTP_LLM_PROM_MAX_PAGE  (2 * 1024 * 1024)


typedef struct {
    ngx_uint_t            tried;
    ngx_uint_t            ready;
    ngx_msec_t            tried_at;
    void                 *handle;
    ngx_rsmi_init_pt      init;
    ngx_rsmi_mem_pt       used;
    ngx_rsmi_mem_pt       total;
    ngx_rsmi_busy_pt      busy;
    ngx_rsmi_temp_pt      temp;
    ngx_rsmi_power_pt     power;
} ngx_http_llm_rsmi_t;


/* per GPU and worker: its library may be another GPU's */
typedef struct {
    ngx_uint_t            tried;
    ngx_uint_t            ready;
    ngx_msec_t            tried_at;
    void                 *handle;
    ngx_nvml_init_pt      init;
    ngx_nvml_handle_pt    device;
    ngx_nvml_memory_pt    memory;
    ngx_nvml_util_pt      util;
    ngx_nvml_temp_pt      temp;
    ngx_nvml_power_pt     power;
} ngx_http_llm_nvml_t;


typedef struct {
    ngx_event_t                 ev;
    ngx_uint_t                  gpu;
    ngx_http_llm_main_conf_t   *lmcf;
    ngx_http_llm_nvml_t         nvml;
    ngx_uint_t                  fetching;    /* prometheus: a fetch runs */
} ngx_http_llm_gpu_timer_t;


typedef struct {
    uint64_t              used;
    uint64_t              total;
    uint64_t              busy;      /* + 1, 0: none */
    uint64_t              temp;      /* + 1 */
    uint64_t              power;     /* + 1 */
} ngx_http_llm_reading_t;


static char *ngx_http_llm_gpu_url(ngx_conf_t *cf, ngx_http_llm_gpu_t *g,
    ngx_str_t *url);
static void ngx_http_llm_gpu_poll(ngx_event_t *ev);
static void ngx_http_llm_gpu_store(ngx_http_llm_gpu_timer_t *t,
    ngx_http_llm_reading_t *rd, u_char *err, ngx_log_t *log);
static ngx_int_t ngx_http_llm_gpu_sysfs(ngx_http_llm_gpu_t *g,
    ngx_http_llm_reading_t *rd, ngx_log_t *log, u_char **err);
static ngx_int_t ngx_http_llm_gpu_rocm(ngx_http_llm_gpu_t *g,
    ngx_http_llm_reading_t *rd, ngx_log_t *log, u_char **err);
static ngx_int_t ngx_http_llm_read_number(ngx_str_t *dir, char *file,
    uint64_t *value, u_char **err);
static ngx_int_t ngx_http_llm_gpu_nvml(ngx_http_llm_gpu_t *g,
    ngx_http_llm_nvml_t *nv, ngx_http_llm_reading_t *rd, u_char **err);
static void ngx_http_llm_gpu_prom(ngx_http_llm_gpu_timer_t *t,
    ngx_log_t *log);
static void ngx_http_llm_gpu_prom_done(ngx_http_llm_fetch_t *f);


static ngx_http_llm_rsmi_t  ngx_http_llm_rsmi;

static char  *ngx_http_llm_rsmi_libs[] = {
    "librocm_smi64.so.1",
    "librocm_smi64.so.5",
    "librocm_smi64.so",
    "/opt/rocm/lib/librocm_smi64.so",
    NULL
};


/* llm_gpu NAME source=sysfs|rocm_smi|nvml|prometheus|off [device=DIR]
 *     [index=N] [library=PATH] [url=http://IP:PORT/PATH] [timeout=TIME]
 *     [interval=TIME]; */

char *
ngx_http_llm_gpu(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    char                *rv;
    ngx_int_t            n, rc;
    ngx_str_t           *value, url;
    ngx_uint_t           i;
    ngx_http_llm_gpu_t  *g;

    value = cf->args->elts;

    if (lmcf->gpus.nelts == NGX_HTTP_LLM_MAX_GPUS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many \"%V\" directives, at most %d",
                           &cmd->name, NGX_HTTP_LLM_MAX_GPUS);
        return NGX_CONF_ERROR;
    }

    g = lmcf->gpus.elts;

    for (i = 0; i < lmcf->gpus.nelts; i++) {
        if (g[i].name.len == value[1].len
            && ngx_strncmp(g[i].name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate GPU \"%V\" in \"%V\"",
                               &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    g = ngx_array_push(&lmcf->gpus);
    if (g == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(g, sizeof(ngx_http_llm_gpu_t));

    g->name = value[1];
    g->source = NGX_CONF_UNSET_UINT;
    g->interval = 1000;
    g->timeout = 1000;
    ngx_str_set(&g->library, "libnvidia-ml.so.1");
    ngx_str_null(&url);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "source=sysfs") == 0) {
            g->source = NGX_HTTP_LLM_GPU_SYSFS;
            continue;
        }

        if (ngx_strcmp(value[i].data, "source=rocm_smi") == 0) {
            g->source = NGX_HTTP_LLM_GPU_ROCM_SMI;
            continue;
        }

        if (ngx_strcmp(value[i].data, "source=nvml") == 0) {
            g->source = NGX_HTTP_LLM_GPU_NVML;
            continue;
        }

        if (ngx_strcmp(value[i].data, "source=prometheus") == 0) {
            g->source = NGX_HTTP_LLM_GPU_PROMETHEUS;
            continue;
        }

        if (ngx_strcmp(value[i].data, "source=off") == 0) {
            g->source = NGX_HTTP_LLM_GPU_OFF;
            continue;
        }

        if (ngx_strncmp(value[i].data, "device=", 7) == 0) {
            g->device.data = value[i].data + 7;
            g->device.len = value[i].len - 7;

            if (g->device.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "index=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n == NGX_ERROR) {
                goto invalid;
            }

            g->index = n;
            continue;
        }

        /* the conf parser's strings end with a NUL, as dlopen() wants */
        if (ngx_strncmp(value[i].data, "library=", 8) == 0) {
            g->library.data = value[i].data + 8;
            g->library.len = value[i].len - 8;

            if (g->library.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "url=", 4) == 0) {
            url.data = value[i].data + 4;
            url.len = value[i].len - 4;
            continue;
        }

        rc = ngx_http_llm_param_msec(&value[i], "timeout=", &g->timeout);

        if (rc == NGX_OK && g->timeout > 0) {
            continue;
        }

        if (rc != NGX_DECLINED) {
            goto invalid;
        }

        rc = ngx_http_llm_param_msec(&value[i], "interval=", &g->interval);

        if (rc == NGX_OK && g->interval >= 10) {
            continue;
        }

        if (rc != NGX_DECLINED) {
            goto invalid;
        }

        goto invalid;
    }

    if (g->source == NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: missing \"source=\" "
                           "(sysfs, rocm_smi or off); nvml for an NVIDIA "
                           "GPU, prometheus for an exporter's page",
                           &cmd->name, &g->name);
        return NGX_CONF_ERROR;
    }

    if (g->source == NGX_HTTP_LLM_GPU_PROMETHEUS) {
        if (url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" %V: source=prometheus needs "
                               "\"url=http://IP:PORT/PATH\"",
                               &cmd->name, &g->name);
            return NGX_CONF_ERROR;
        }

        rv = ngx_http_llm_gpu_url(cf, g, &url);
        if (rv != NGX_CONF_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" %V: invalid \"url=%V\": %s",
                               &cmd->name, &g->name, &url, rv);
            return NGX_CONF_ERROR;
        }

    } else if (url.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" %V: \"url=\" is for source=prometheus",
                           &cmd->name, &g->name);
        return NGX_CONF_ERROR;
    }

    if (g->source == NGX_HTTP_LLM_GPU_SYSFS && g->device.len == 0) {
        ngx_str_set(&g->device, "/sys/class/drm/card0/device");
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/*
 * http://IP:PORT[/PATH], PATH "/metrics" when absent; an IP, no name: the
 * poll would block in the resolver otherwise, as elsewhere in the module
 */

static char *
ngx_http_llm_gpu_url(ngx_conf_t *cf, ngx_http_llm_gpu_t *g, ngx_str_t *url)
{
    u_char     *p, *last, *slash;
    ngx_int_t   rc;

    p = url->data;
    last = url->data + url->len;

    if (url->len < 7 || ngx_strncasecmp(p, (u_char *) "http://", 7) != 0) {
        return "only http:// is supported";
    }

    p += 7;

    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL) {
        slash = last;
        ngx_str_set(&g->uri, "/metrics");

    } else {
        g->uri.data = slash;
        g->uri.len = last - slash;
    }

    rc = ngx_parse_addr_port(cf->pool, &g->exporter, p, slash - p);

    if (rc == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK || ngx_inet_get_port(g->exporter.sockaddr) == 0) {
        return "the host must be an IP address with a port";
    }

    g->exporter.name.data = p;
    g->exporter.name.len = slash - p;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_vram_init_process(ngx_cycle_t *cycle,
    ngx_http_llm_main_conf_t *lmcf)
{
    ngx_uint_t                 i;
    ngx_http_llm_gpu_t        *g;
    ngx_http_llm_gpu_timer_t  *t;

    g = lmcf->gpus.elts;

    for (i = 0; i < lmcf->gpus.nelts; i++) {

        if (g[i].source == NGX_HTTP_LLM_GPU_OFF) {
            continue;
        }

        t = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llm_gpu_timer_t));
        if (t == NULL) {
            return NGX_ERROR;
        }

        t->gpu = i;
        t->lmcf = lmcf;

        ngx_http_llm_start_timer(&t->ev, ngx_http_llm_gpu_poll, t,
                                 cycle->log);
    }

    return NGX_OK;
}


static void
ngx_http_llm_gpu_poll(ngx_event_t *ev)
{
    u_char                    *err;
    ngx_int_t                  rc;
    ngx_http_llm_gpu_t        *g;
    ngx_http_llm_gpu_sh_t     *gs;
    ngx_http_llm_reading_t     rd;
    ngx_http_llm_gpu_timer_t  *t;

    t = ev->data;
    g = &((ngx_http_llm_gpu_t *) t->lmcf->gpus.elts)[t->gpu];
    gs = &t->lmcf->sh->gpus[t->gpu];

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, g->interval);

    if (!ngx_http_llm_elect(&gs->polled_at, g->interval)) {
        return;
    }

    if (g->source == NGX_HTTP_LLM_GPU_PROMETHEUS) {
        ngx_http_llm_gpu_prom(t, ev->log);
        return;
    }

    ngx_memzero(&rd, sizeof(ngx_http_llm_reading_t));
    err = NULL;

    if (g->source == NGX_HTTP_LLM_GPU_SYSFS) {
        rc = ngx_http_llm_gpu_sysfs(g, &rd, ev->log, &err);

    } else if (g->source == NGX_HTTP_LLM_GPU_NVML) {
        rc = ngx_http_llm_gpu_nvml(g, &t->nvml, &rd, &err);

    } else {
        rc = ngx_http_llm_gpu_rocm(g, &rd, ev->log, &err);
    }

    ngx_http_llm_gpu_store(t, rc == NGX_OK ? &rd : NULL, err, ev->log);
}


/* a reading (NULL: none, err says why) into the zone */

static void
ngx_http_llm_gpu_store(ngx_http_llm_gpu_timer_t *t,
    ngx_http_llm_reading_t *rd, u_char *err, ngx_log_t *log)
{
    ngx_http_llm_gpu_t     *g;
    ngx_http_llm_gpu_sh_t  *gs;

    g = &((ngx_http_llm_gpu_t *) t->lmcf->gpus.elts)[t->gpu];
    gs = &t->lmcf->sh->gpus[t->gpu];

    if (rd != NULL) {
        gs->used = rd->used;
        gs->total = rd->total;
        gs->busy = rd->busy;
        gs->temp = rd->temp;
        gs->power = rd->power;
        gs->read_at = ngx_current_msec;

        if (gs->ok != NGX_HTTP_LLM_YES) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "llm router: GPU \"%V\": reading VRAM, "
                          "%uL of %uL MiB used", &g->name,
                          rd->used >> 20, rd->total >> 20);
            gs->ok = NGX_HTTP_LLM_YES;
        }

        return;
    }

    if (gs->ok != NGX_HTTP_LLM_NO) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "llm router: GPU \"%V\": %s, VRAM unknown, routing "
                      "ignores it", &g->name, err ? (char *) err : "failed");
        gs->ok = NGX_HTTP_LLM_NO;
    }
}


static ngx_int_t
ngx_http_llm_gpu_sysfs(ngx_http_llm_gpu_t *g, ngx_http_llm_reading_t *rd,
    ngx_log_t *log, u_char **err)
{
    uint64_t  busy;
    u_char   *ignored;

    if (ngx_http_llm_read_number(&g->device, "mem_info_vram_used",
                                 &rd->used, err)
        != NGX_OK
        || ngx_http_llm_read_number(&g->device, "mem_info_vram_total",
                                    &rd->total, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rd->total == 0 || rd->used > rd->total) {
        *err = (u_char *) "sysfs VRAM numbers out of range";
        return NGX_ERROR;
    }

    if (ngx_http_llm_read_number(&g->device, "gpu_busy_percent", &busy,
                                 &ignored)
        == NGX_OK && busy <= 100)
    {
        rd->busy = busy + 1;
    }

    return NGX_OK;
}


/* reads one decimal number from DIR/FILE (a sysfs attribute) */

static ngx_int_t
ngx_http_llm_read_number(ngx_str_t *dir, char *file, uint64_t *value,
    u_char **err)
{
    u_char    path[NGX_MAX_PATH], buf[32], *p;
    ssize_t   n;
    uint64_t  v;
    ngx_fd_t  fd;

    if (dir->len + ngx_strlen(file) + 2 > NGX_MAX_PATH) {
        *err = (u_char *) "device path too long";
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/%s%Z", dir, file);

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        *err = (u_char *) "cannot open the sysfs VRAM files";
        return NGX_ERROR;
    }

    n = read(fd, buf, sizeof(buf) - 1);

    (void) ngx_close_file(fd);

    if (n <= 0) {
        *err = (u_char *) "cannot read the sysfs VRAM files";
        return NGX_ERROR;
    }

    v = 0;

    for (p = buf; p < buf + n && *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) {
            *err = (u_char *) "sysfs VRAM number too large";
            return NGX_ERROR;
        }

        v = v * 10 + (*p - '0');
    }

    if (p == buf || (p < buf + n && *p != '\n' && *p != ' ')) {
        *err = (u_char *) "sysfs VRAM files hold no number";
        return NGX_ERROR;
    }

    *value = v;

    return NGX_OK;
}


/*
 * rsmi_init() prints its own lines ("Failed to open drm root directory",
 * "Exception caught: rsmi_init.") to stderr, which is nginx's error log,
 * at every retry on a machine without an AMD GPU: they are silenced, the
 * router says once in its own words that no GPU was found.
 */

static int
ngx_http_llm_rsmi_init_quietly(ngx_http_llm_rsmi_t *rs)
{
    int  rc, saved, null;

    saved = dup(STDERR_FILENO);
    null = open("/dev/null", O_WRONLY);

    if (saved != -1 && null != -1) {
        (void) dup2(null, STDERR_FILENO);
    }

    rc = rs->init(0);

    if (saved != -1 && null != -1) {
        (void) dup2(saved, STDERR_FILENO);
    }

    if (saved != -1) {
        (void) close(saved);
    }

    if (null != -1) {
        (void) close(null);
    }

    return rc;
}


static ngx_int_t
ngx_http_llm_gpu_rocm(ngx_http_llm_gpu_t *g, ngx_http_llm_reading_t *rd,
    ngx_log_t *log, u_char **err)
{
    char                **name;
    int64_t               temp;
    uint32_t              busy;
    uint64_t              power;
    ngx_http_llm_rsmi_t  *rs;

    rs = &ngx_http_llm_rsmi;

    if (!rs->ready) {

        if (rs->tried
            && (ngx_msec_int_t) (ngx_current_msec - rs->tried_at)
               < NGX_RSMI_RETRY)
        {
            *err = (u_char *) "rocm-smi-lib is not usable";
            return NGX_ERROR;
        }

        rs->tried = 1;
        rs->tried_at = ngx_current_msec;

        if (rs->handle == NULL) {
            for (name = ngx_http_llm_rsmi_libs; *name; name++) {
                rs->handle = dlopen(*name, RTLD_NOW | RTLD_LOCAL);

                if (rs->handle != NULL) {
                    break;
                }
            }

            if (rs->handle == NULL) {
                *err = (u_char *) "rocm-smi-lib (librocm_smi64.so) "
                                  "is not installed";
                return NGX_ERROR;
            }

            rs->init = (ngx_rsmi_init_pt) dlsym(rs->handle, "rsmi_init");
            rs->used = (ngx_rsmi_mem_pt) dlsym(rs->handle,
                                               "rsmi_dev_memory_usage_get");
            rs->total = (ngx_rsmi_mem_pt) dlsym(rs->handle,
                                                "rsmi_dev_memory_total_get");
            rs->busy = (ngx_rsmi_busy_pt) dlsym(rs->handle,
                                                "rsmi_dev_busy_percent_get");
            rs->temp = (ngx_rsmi_temp_pt) dlsym(rs->handle,
                                                "rsmi_dev_temp_metric_get");
            rs->power = (ngx_rsmi_power_pt) dlsym(rs->handle,
                                                  "rsmi_dev_power_ave_get");

            if (rs->init == NULL || rs->used == NULL || rs->total == NULL) {
                *err = (u_char *) "rocm-smi-lib lacks rsmi_init() or "
                                  "the memory calls";
                return NGX_ERROR;
            }
        }

        if (ngx_http_llm_rsmi_init_quietly(rs) != 0) {
            *err = (u_char *) "rsmi_init() failed: no AMD GPU or driver";
            return NGX_ERROR;
        }

        rs->ready = 1;
    }

    if (rs->used(g->index, NGX_RSMI_MEM_TYPE_VRAM, &rd->used) != 0
        || rs->total(g->index, NGX_RSMI_MEM_TYPE_VRAM, &rd->total) != 0
        || rd->total == 0)
    {
        *err = (u_char *) "rocm-smi cannot read this device's VRAM";
        return NGX_ERROR;
    }

    if (rs->busy != NULL && rs->busy(g->index, &busy) == 0 && busy <= 100) {
        rd->busy = busy + 1;
    }

    if (rs->temp != NULL
        && rs->temp(g->index, NGX_RSMI_TEMP_TYPE_EDGE, NGX_RSMI_TEMP_CURRENT,
                    &temp) == 0
        && temp >= 0)
    {
        rd->temp = (uint64_t) temp + 1;
    }

    if (rs->power != NULL && rs->power(g->index, 0, &power) == 0) {
        rd->power = power + 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_gpu_nvml(ngx_http_llm_gpu_t *g, ngx_http_llm_nvml_t *nv,
    ngx_http_llm_reading_t *rd, u_char **err)
{
    void                    *dev;
    unsigned int             temp, power;
    ngx_nvml_memory_t        mem;
    ngx_nvml_utilization_t   util;

    if (!nv->ready) {

        if (nv->tried
            && (ngx_msec_int_t) (ngx_current_msec - nv->tried_at)
               < NGX_RSMI_RETRY)
        {
            *err = (u_char *) "NVML is not usable";
            return NGX_ERROR;
        }

        nv->tried = 1;
        nv->tried_at = ngx_current_msec;

        if (nv->handle == NULL) {
            nv->handle = dlopen((char *) g->library.data,
                                RTLD_NOW | RTLD_LOCAL);

            if (nv->handle == NULL) {
                *err = (u_char *) "NVML (libnvidia-ml) is not installed";
                return NGX_ERROR;
            }

            nv->init = (ngx_nvml_init_pt) dlsym(nv->handle, "nvmlInit_v2");
            nv->device = (ngx_nvml_handle_pt)
                             dlsym(nv->handle,
                                   "nvmlDeviceGetHandleByIndex_v2");
            nv->memory = (ngx_nvml_memory_pt)
                             dlsym(nv->handle, "nvmlDeviceGetMemoryInfo");
            nv->util = (ngx_nvml_util_pt)
                           dlsym(nv->handle, "nvmlDeviceGetUtilizationRates");
            nv->temp = (ngx_nvml_temp_pt)
                           dlsym(nv->handle, "nvmlDeviceGetTemperature");
            nv->power = (ngx_nvml_power_pt)
                            dlsym(nv->handle, "nvmlDeviceGetPowerUsage");

            if (nv->init == NULL || nv->device == NULL || nv->memory == NULL)
            {
                (void) dlclose(nv->handle);
                nv->handle = NULL;
                *err = (u_char *) "NVML (libnvidia-ml) lacks nvmlInit_v2() "
                                  "or the memory calls";
                return NGX_ERROR;
            }
        }

        if (nv->init() != 0) {
            *err = (u_char *) "nvmlInit_v2() failed: no NVIDIA GPU or driver";
            return NGX_ERROR;
        }

        nv->ready = 1;
    }

    if (nv->device((unsigned int) g->index, &dev) != 0) {
        *err = (u_char *) "NVML has no GPU at this index";
        return NGX_ERROR;
    }

    if (nv->memory(dev, &mem) != 0 || mem.total == 0
        || mem.used > mem.total)
    {
        *err = (u_char *) "NVML cannot read this GPU's memory";
        return NGX_ERROR;
    }

    rd->used = mem.used;
    rd->total = mem.total;

    if (nv->util != NULL && nv->util(dev, &util) == 0 && util.gpu <= 100) {
        rd->busy = util.gpu + 1;
    }

    if (nv->temp != NULL
        && nv->temp(dev, NGX_NVML_TEMPERATURE_GPU, &temp) == 0)
    {
        rd->temp = (uint64_t) temp * 1000 + 1;
    }

    if (nv->power != NULL && nv->power(dev, &power) == 0) {
        rd->power = (uint64_t) power * 1000 + 1;
    }

    return NGX_OK;
}


/* a fetch of the exporter's page, in a pool of its own */

static void
ngx_http_llm_gpu_prom(ngx_http_llm_gpu_timer_t *t, ngx_log_t *log)
{
    ngx_pool_t            *pool;
    ngx_http_llm_gpu_t    *g;
    ngx_http_llm_fetch_t  *f;

    if (t->fetching) {
        return;
    }

    g = &((ngx_http_llm_gpu_t *) t->lmcf->gpus.elts)[t->gpu];

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return;
    }

    f = ngx_http_llm_fetch(pool, log, &g->exporter, &g->exporter.name, "GET",
                           &g->uri, NULL, g->timeout,
                           NGX_HTTP_LLM_PROM_MAX_PAGE,
                           ngx_http_llm_gpu_prom_done, t);
    if (f == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    t->fetching = 1;
}


static void
ngx_http_llm_gpu_prom_done(ngx_http_llm_fetch_t *f)
{
    u_char                    *err, *last;
    const char                *why;
    ngx_http_llm_gpu_t        *g;
    ngx_llm_prom_gpu_t         pg;
    ngx_http_llm_reading_t     rd;
    ngx_http_llm_gpu_timer_t  *t;

    static u_char  buf[128];

    t = f->data;
    g = &((ngx_http_llm_gpu_t *) t->lmcf->gpus.elts)[t->gpu];

    t->fetching = 0;
    err = buf;

    if (f->error != NGX_HTTP_LLM_FETCH_OK) {
        last = ngx_snprintf(buf, sizeof(buf) - 1, "exporter %V: %s",
                            &g->exporter.name, ngx_http_llm_fetch_error(f));

    } else if (f->status != NGX_HTTP_OK) {
        last = ngx_snprintf(buf, sizeof(buf) - 1,
                            "exporter %V: HTTP status %ui",
                            &g->exporter.name, f->status);

    } else if (ngx_llm_prom_gpu((const char *) f->body.data, f->body.len,
                                (const char *) g->device.data, g->device.len,
                                &pg, &why)
               != 0)
    {
        last = ngx_snprintf(buf, sizeof(buf) - 1, "exporter %V: %s",
                            &g->exporter.name, why);

    } else {
        ngx_memzero(&rd, sizeof(ngx_http_llm_reading_t));

        rd.used = pg.used;
        rd.total = pg.total;
        rd.busy = (pg.have & NGX_LLM_PROM_BUSY) ? pg.busy + 1 : 0;
        rd.temp = (pg.have & NGX_LLM_PROM_TEMP) ? pg.temp + 1 : 0;
        rd.power = (pg.have & NGX_LLM_PROM_POWER) ? pg.power + 1 : 0;

        ngx_http_llm_gpu_store(t, &rd, NULL, f->log);
        ngx_destroy_pool(f->pool);
        return;
    }

    *last = '\0';

    ngx_http_llm_gpu_store(t, NULL, err, f->log);
    ngx_destroy_pool(f->pool);
}
