/*
 * task.c — the table of bundled tasks (ttp_task.h).
 */
#include <string.h>

#include "ttp_task.h"

static const ttp_task_info tasks[] = {
    {"default", "default-model.nc", "default-data.nc",
     "a small ResNet (5,589 weights) pretrained on digits 0-4, fresh 5-class head, digits 5-9"},
    {"wide", "wide-model.nc", "default-data.nc",
     "a wide ResNet (1,226,501 weights) pretrained on digits 0-4, fresh 5-class head, digits 5-9"},
};

const ttp_task_info *ttp_task_list(int *n)
{
    *n = (int)(sizeof tasks / sizeof tasks[0]);
    return tasks;
}

ttp_status ttp_task_find(ttp_ctx *ctx, const char *name, const ttp_task_info **out)
{
    int n;
    const ttp_task_info *t = ttp_task_list(&n);
    *out = NULL;
    for (int i = 0; i < n; i++)
        if (name && strcmp(t[i].name, name) == 0) {
            *out = &t[i];
            return TTP_OK;
        }
    char known[256] = "";
    for (int i = 0; i < n; i++) {
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, t[i].name, sizeof known - strlen(known) - 1);
    }
    return TTP_ERR(ctx, TTP_ERR_ARG, "option task: unknown bundled task '%s' (expected one of: %s)",
                   name ? name : "", known);
}
