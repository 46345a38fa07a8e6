/*
 * ttp_task.h — the bundled tasks: a model and a fine-tuning dataset shipped
 * in data/ (and installed to share/ttpredict), named so that a command can
 * run on one without --model/--data.  The table holds file names only;
 * where the files lie is the caller's to resolve.
 */
#ifndef TTP_TASK_H
#define TTP_TASK_H

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ttp_task_info {
    const char *name;       /* "default", "wide"                            */
    const char *model_file; /* file name of the model (NetCDF)              */
    const char *data_file;  /* file name of the fine-tuning dataset         */
    const char *summary;    /* one line for help texts                      */
} ttp_task_info;

/* The table, in a fixed order; *n receives its length.  The first entry is
 * the task used when none is named. */
const ttp_task_info *ttp_task_list(int *n);
/* The task called name; TTP_ERR_ARG naming option task, the value and the
 * known names when there is none. */
ttp_status ttp_task_find(ttp_ctx *ctx, const char *name, const ttp_task_info **out);

#ifdef __cplusplus
}
#endif

#endif /* TTP_TASK_H */
