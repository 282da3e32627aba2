
/*
 * Copyright (C) ngx_llm_router authors
 *
 * GPU readings from the Prometheus pages of AMD's device-metrics-exporter,
 * NVIDIA's dcgm-exporter and node_exporter's drm collector; the GPU picked
 * by a label; pages and lines that are not Prometheus text.
 */


#include <stdlib.h>

#include "unit.h"
#include "ngx_llm_prom_parse.h"


#define MIB  1048576ULL


static ngx_llm_prom_gpu_t  g;
static const char         *err;


static int
parse(const char *page, const char *device)
{
    err = NULL;

    return ngx_llm_prom_gpu(page, strlen(page), device,
                            device ? strlen(device) : 0, &g, &err);
}


static const char  amd[] =
    "# HELP gpu_used_vram Total VRAM memory used in MB\n"
    "# TYPE gpu_used_vram gauge\n"
    "gpu_used_vram{card_model=\"Radeon RX 7800 XT\",gpu_id=\"0\","
    "hostname=\"h\",serial_number=\"S0\"} 15728\n"
    "gpu_used_vram{card_model=\"Radeon RX 7800 XT\",gpu_id=\"1\","
    "hostname=\"h\",serial_number=\"S1\"} 1024\n"
    "# TYPE gpu_total_vram gauge\n"
    "gpu_total_vram{card_model=\"Radeon RX 7800 XT\",gpu_id=\"0\"} 16384\n"
    "gpu_total_vram{card_model=\"Radeon RX 7800 XT\",gpu_id=\"1\"} 16384\n"
    "gpu_gfx_activity{gpu_id=\"0\"} 87\n"
    "gpu_gfx_activity{gpu_id=\"1\"} 3\n"
    "gpu_junction_temperature{gpu_id=\"0\"} 80\n"
    "gpu_edge_temperature{gpu_id=\"0\"} 64.5\n"
    "gpu_package_power{gpu_id=\"0\"} 250\n"
    "gpu_power_usage{gpu_id=\"0\"} 212\n"
    "gpu_power_usage{gpu_id=\"1\"} 20\n";

static const char  dcgm[] =
    "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).\n"
    "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
    "DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-aaaa\",device=\"nvidia0\","
    "modelName=\"NVIDIA L4\",Hostname=\"h\"} 42\r\n"
    "DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-bbbb\",device=\"nvidia1\","
    "modelName=\"NVIDIA L4\",Hostname=\"h\"} 7\r\n"
    "DCGM_FI_DEV_FB_FREE{gpu=\"0\",UUID=\"GPU-aaaa\",device=\"nvidia0\"} "
    "2000\r\n"
    "DCGM_FI_DEV_FB_FREE{gpu=\"1\",UUID=\"GPU-bbbb\",device=\"nvidia1\"} "
    "20000\r\n"
    "DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-aaaa\",device=\"nvidia0\"} "
    "20000\r\n"
    "DCGM_FI_DEV_FB_USED{gpu=\"1\",UUID=\"GPU-bbbb\",device=\"nvidia1\"} "
    "2000\r\n"
    "DCGM_FI_DEV_FB_RESERVED{gpu=\"0\",UUID=\"GPU-aaaa\"} 528\r\n"
    "DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",UUID=\"GPU-aaaa\"} 55\r\n"
    "DCGM_FI_DEV_POWER_USAGE{gpu=\"0\",UUID=\"GPU-aaaa\"} 61.25\r\n";

static const char  node[] =
    "# HELP node_drm_memory_vram_size_bytes VRAM size in bytes\n"
    "# TYPE node_drm_memory_vram_size_bytes gauge\n"
    "node_drm_memory_vram_size_bytes{card=\"card0\"} 1.7163091968e+10\n"
    "node_drm_memory_vram_size_bytes{card=\"card1\"} 5.36870912e+08\n"
    "node_drm_memory_vram_used_bytes{card=\"card0\"} 1.6e+10\n"
    "node_drm_memory_vram_used_bytes{card=\"card1\"} 1.0e+08\n"
    "node_drm_gpu_busy_percent{card=\"card0\"} 100\n"
    "node_drm_gpu_busy_percent{card=\"card1\"} 0\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12345.67 1700000000000\n";


static void
test_amd(void)
{
    CHECK(parse(amd, NULL) == 0, "amd: parsed");
    CHECK(g.used == 15728 * MIB && g.total == 16384 * MIB,
          "amd: MB taken as MiB, the first GPU");
    CHECK(g.have == (NGX_LLM_PROM_BUSY | NGX_LLM_PROM_TEMP
                     | NGX_LLM_PROM_POWER), "amd: busy, temp, power");
    CHECK(g.busy == 87, "amd: gfx activity");
    CHECK(g.temp == 64500, "amd: edge temperature before junction");
    CHECK(g.power == 212000000, "amd: power usage before package power");
    CHECK(strcmp(g.exporter, "device-metrics-exporter") == 0, "amd: named");

    CHECK(parse(amd, "1") == 0 && g.used == 1024 * MIB && g.busy == 3
          && g.power == 20000000, "amd: gpu_id=1");
    CHECK(!(g.have & NGX_LLM_PROM_TEMP), "amd: gpu 1 has no temperature");

    CHECK(parse(amd, "7") == -1 && err != NULL, "amd: no GPU 7");
    CHECK(parse(amd, "S0") == -1, "serial_number is not a device label");
}


static void
test_dcgm(void)
{
    CHECK(parse(dcgm, NULL) == 0, "dcgm: parsed, CRLF lines");
    CHECK(g.used == 20000 * MIB, "dcgm: FB_USED in MiB");
    CHECK(g.total == (20000 + 2000 + 528) * MIB,
          "dcgm: total = used + free + reserved");
    CHECK(g.busy == 42 && g.temp == 55000 && g.power == 61250000,
          "dcgm: util, temp, power");
    CHECK(strcmp(g.exporter, "dcgm-exporter") == 0, "dcgm: named");

    CHECK(parse(dcgm, "GPU-bbbb") == 0 && g.used == 2000 * MIB
          && g.total == 22000 * MIB && g.busy == 7, "dcgm: by UUID");
    CHECK(parse(dcgm, "nvidia1") == 0 && g.used == 2000 * MIB,
          "dcgm: by device");
    CHECK(parse(dcgm, "1") == 0 && g.used == 2000 * MIB, "dcgm: by gpu");
}


static void
test_node(void)
{
    CHECK(parse(node, NULL) == 0, "node: parsed");
    CHECK(g.used == 16000000000ULL && g.total == 17163091968ULL,
          "node: bytes, exponent notation");
    CHECK(g.busy == 100 && g.have == NGX_LLM_PROM_BUSY,
          "node: busy, no temperature or power");
    CHECK(parse(node, "card1") == 0 && g.used == 100000000ULL
          && g.busy == 0 && (g.have & NGX_LLM_PROM_BUSY), "node: card1");
    CHECK(strcmp(g.exporter, "node_exporter") == 0, "node: named");
}


static void
test_bad(void)
{
    CHECK(parse("", NULL) == -1, "empty page");
    CHECK(parse("# only comments\n\n", NULL) == -1, "comments only");
    CHECK(parse("<html><body>502 Bad Gateway</body></html>\n", NULL) == -1
          && strcmp(err, "not a Prometheus text page") == 0, "HTML");
    CHECK(parse("{\"gpu_used_vram\": 1}", NULL) == -1, "JSON");
    CHECK(parse("gpu_used_vram 10\ngpu_total_vram\n", NULL) == -1,
          "a sample without a value");
    CHECK(parse("gpu_used_vram{gpu_id=\"0\" 10\n", NULL) == -1,
          "unclosed labels");
    CHECK(parse("gpu_used_vram{gpu_id=\"0} 10\n", NULL) == -1,
          "unclosed quote");
    CHECK(parse("gpu_used_vram{gpu_id=0} 10\n", NULL) == -1,
          "unquoted label value");
    CHECK(parse("gpu_used_vram 10 abc\ngpu_total_vram 20\n", NULL) == -1,
          "a bad timestamp");
    CHECK(parse("gpu_used_vram 0x10\ngpu_total_vram 20\n", NULL) == -1,
          "hexadecimal is not Prometheus");
    CHECK(parse("gpu_used_vram 10\ngpu_total_vram 20", NULL) == 0
          && g.used == 10 * MIB, "no final newline");
    CHECK(parse("gpu_used_vram 10\ngpu_total_vram 20\ngpu_tot", NULL) == -1,
          "truncated page");
    CHECK(parse("gpu_used_vram 30\ngpu_total_vram 20\n", NULL) == -1
          && strcmp(err, "VRAM numbers out of range") == 0,
          "used above total");
    CHECK(parse("gpu_used_vram 0\ngpu_total_vram 0\n", NULL) == -1,
          "total zero");
    CHECK(parse("gpu_used_vram NaN\ngpu_total_vram 20\n", NULL) == -1,
          "NaN is not a reading");
    CHECK(parse("gpu_used_vram 1\ngpu_total_vram +Inf\n", NULL) == -1,
          "Inf is not a reading");
    CHECK(parse("gpu_used_vram -1\ngpu_total_vram 20\n", NULL) == -1,
          "negative is not a reading");
    CHECK(parse("gpu_used_vram 1e300\ngpu_total_vram 1e300\n", NULL) == -1,
          "beyond 64 bits");
    CHECK(parse("gpu_gfx_activity 50\n", NULL) == -1
          && strcmp(err, "no VRAM metrics on the page") == 0,
          "busy without VRAM");
    CHECK(parse("gpu_used_vram 10\ngpu_total_vram 20\n"
                "gpu_gfx_activity 150\n", NULL) == 0
          && !(g.have & NGX_LLM_PROM_BUSY), "busy above 100 left out");
}


static void
test_syntax(void)
{
    CHECK(parse("  gpu_used_vram { gpu_id = \"0\" , } 10 -5\t\n"
                "gpu_total_vram{gpu_id=\"0\",} 20 1700000000000\n", NULL)
          == 0 && g.used == 10 * MIB, "blanks, trailing comma, timestamps");
    CHECK(parse("gpu_used_vram{gpu_id=\"a\\\"b\",x=\"\\\\\"} 10\n"
                "gpu_total_vram{gpu_id=\"a\\\"b\"} 20\n", "a\\\"b") == 0
          && g.total == 20 * MIB, "escaped quotes, matched as written");
    CHECK(parse("gpu_used_vram{} 10\ngpu_total_vram 20\n", NULL) == 0,
          "empty label set");
    CHECK(parse("gpu_used_vram{card=\"card0\"} 10\n"
                "gpu_total_vram 20\n", NULL) == -1,
          "a sample without a device label is another GPU");
    CHECK(parse("gpu_free_vram 5\ngpu_total_vram 20\n", NULL) == 0
          && g.used == 15 * MIB, "used = total - free");
    CHECK(parse("DCGM_FI_DEV_FB_USED 5\nDCGM_FI_DEV_FB_TOTAL 100\n"
                "DCGM_FI_DEV_FB_FREE 1\n", NULL) == 0
          && g.total == 100 * MIB, "FB_TOTAL when the page has it");
    CHECK(parse("gpu_used_vram 10\ngpu_used_vram 12\ngpu_total_vram 20\n",
                NULL) == 0 && g.used == 10 * MIB, "the first sample wins");
    CHECK(parse("gpu_used_vram\t10\ngpu_total_vram 20\n", NULL) == 0,
          "a tab");
    CHECK(parse("gpu_used_vram10\n", NULL) == -1, "no blank before value");
    CHECK(ngx_llm_prom_gpu("gpu_used_vram 1\0\ngpu_total_vram 2\n", 33,
                           NULL, 0, &g, &err) == -1, "a NUL byte");
}


int
main(void)
{
    test_amd();
    test_dcgm();
    test_node();
    test_bad();
    test_syntax();

    UNIT_DONE("prom_parse");
}
