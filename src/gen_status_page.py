#!/usr/bin/env python3
# Turns ngx_http_llm_status_page.html into a C string: make status-page
import sys
src, dst = sys.argv[1], sys.argv[2]
html = open(src, encoding='utf-8').read()
out = ['', '/* generated from ngx_http_llm_status_page.html by gen_status_page.py */', '',
       'static const char  ngx_http_llm_status_page[] =']
for line in html.splitlines(True):
    esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
    out.append('    "' + esc + '"')
out[-1] += ';'
open(dst, 'w', encoding='utf-8').write('\n'.join(out) + '\n')
