/*
 * classlist_txt.c — a text class list: one class per line (LF, CRLF or a lone CR), taken
 * literally; the encoding (BOM, UTF-16) was handled by classlist.c.
 */
#include "classlist_internal.h"

#include "error.h"

int cl_parse_txt(cl_builder *b, const char *d, size_t n)
{
    cl_loc l = {0};
    size_t i = 0;
    int rc;
    for (l.line = 1; i < n; l.line++) {
        size_t s = i;
        while (i < n && d[i] != '\n' && d[i] != '\r') i++;
        if ((rc = cl_add_name(b, d + s, i - s, &l))) return rc;
        if (i < n) i += d[i] == '\r' && i + 1 < n && d[i + 1] == '\n' ? 2 : 1;
    }
    if (!b->n) return ae_fail(AE_ERR_INVALID, "%s: no class names (only blank lines)", b->name);
    return AE_OK;
}
