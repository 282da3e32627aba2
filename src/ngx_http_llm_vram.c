
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
 *              the module loads and runs where ROCm or a GPU is missing.
 *
 * A probe that fails leaves VRAM unknown; the failure is logged once per
 * change of state, not at every poll.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dlfcn.h>

#include "ngx_http_llm_state.h"
#include "ngx_http_llm_vram.h"
#include "ngx_http_llm_util.h"


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


typedef struct {
    ngx_event_t                 ev;
    ngx_uint_t                  gpu;
    ngx_http_llm_main_conf_t   *lmcf;
} ngx_http_llm_gpu_timer_t;


typedef struct {
    uint64_t              used;
    uint64_t              total;
    uint64_t              busy;      /* + 1, 0: none */
    uint64_t              temp;      /* + 1 */
    uint64_t              power;     /* + 1 */
} ngx_http_llm_reading_t;


static void ngx_http_llm_gpu_poll(ngx_event_t *ev);
static ngx_int_t ngx_http_llm_gpu_sysfs(ngx_http_llm_gpu_t *g,
    ngx_http_llm_reading_t *rd, ngx_log_t *log, u_char **err);
static ngx_int_t ngx_http_llm_gpu_rocm(ngx_http_llm_gpu_t *g,
    ngx_http_llm_reading_t *rd, ngx_log_t *log, u_char **err);
static ngx_int_t ngx_http_llm_read_number(ngx_str_t *dir, char *file,
    uint64_t *value, u_char **err);


static ngx_http_llm_rsmi_t  ngx_http_llm_rsmi;

static char  *ngx_http_llm_rsmi_libs[] = {
    "librocm_smi64.so.1",
    "librocm_smi64.so.5",
    "librocm_smi64.so",
    "/opt/rocm/lib/librocm_smi64.so",
    NULL
};


/* llm_gpu NAME source=sysfs|rocm_smi|off [device=DIR] [index=N]
 *     [interval=TIME]; */

char *
ngx_http_llm_gpu(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t            n, rc;
    ngx_str_t           *value;
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
    ngx_str_set(&g->device, "/sys/class/drm/card0/device");

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "source=sysfs") == 0) {
            g->source = NGX_HTTP_LLM_GPU_SYSFS;
            continue;
        }

        if (ngx_strcmp(value[i].data, "source=rocm_smi") == 0) {
            g->source = NGX_HTTP_LLM_GPU_ROCM_SMI;
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
                           "(sysfs, rocm_smi or off)", &cmd->name, &g->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
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

    ngx_memzero(&rd, sizeof(ngx_http_llm_reading_t));
    err = NULL;

    if (g->source == NGX_HTTP_LLM_GPU_SYSFS) {
        rc = ngx_http_llm_gpu_sysfs(g, &rd, ev->log, &err);

    } else {
        rc = ngx_http_llm_gpu_rocm(g, &rd, ev->log, &err);
    }

    if (rc == NGX_OK) {
        gs->used = rd.used;
        gs->total = rd.total;
        gs->busy = rd.busy;
        gs->temp = rd.temp;
        gs->power = rd.power;
        gs->read_at = ngx_current_msec;

        if (gs->ok != NGX_HTTP_LLM_YES) {
            ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                          "llm router: GPU \"%V\": reading VRAM, "
                          "%uL of %uL MiB used", &g->name,
                          rd.used >> 20, rd.total >> 20);
            gs->ok = NGX_HTTP_LLM_YES;
        }

        return;
    }

    if (gs->ok != NGX_HTTP_LLM_NO) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
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
