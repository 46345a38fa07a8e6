/*
 * ttp_nc.h — private helper for the modules that read and write NetCDF:
 * the checked-call macro specialised with nc_strerror.
 */
#ifndef TTP_NC_H
#define TTP_NC_H

#include <netcdf.h>

#include "ttp_core.h"

/* Check a NetCDF call; on failure record TTP_ERR_NETCDF with NetCDF's text
 * and the printf-style description of what was being done (name the file
 * and the variable). */
#define TTP_NC(ctx, st, label, expr, ...) \
    TTP_CHECK_GEN(ctx, st, label, expr, NC_NOERR, nc_strerror, TTP_ERR_NETCDF, __VA_ARGS__)

#endif /* TTP_NC_H */
