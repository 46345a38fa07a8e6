/*
 * ttp_mpi.h — the MPI side of ttpredict's runtime: the MPI communicator
 * behind ttp_comm, process start/stop, and the checked-call macro.
 * Everything that includes <mpi.h> lives in mpi/.
 */
#ifndef TTP_MPI_H
#define TTP_MPI_H

#include <mpi.h>

#include "ttp_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MPI_Error_string for the generic check macro (thread-unsafe static buffer
 * is avoided: the string is copied into a per-call buffer by the macro). */
const char *ttp_mpi_errstr(int rc);

/* Check an MPI call: on failure record TTP_ERR_MPI with MPI's own text. */
#define TTP_MPI(ctx, st, label, expr, ...)                                                                   \
    TTP_CHECK_GEN(ctx, st, label, expr, MPI_SUCCESS, ttp_mpi_errstr, TTP_ERR_MPI, __VA_ARGS__)

/* The MPI communicator behind a ttp_comm: its own for one from
 * ttp_mpi_comm, MPI_COMM_SELF for the serial one.  TTP_ERR_UNSUPPORTED when
 * MPI is not initialised.  Not collective. */
ttp_status ttp_mpi_comm_of(ttp_ctx *ctx, const ttp_comm *c, MPI_Comm *out);

/* Initialise MPI (errors returned, not fatal) and set ctx->rank. */
ttp_status ttp_mpi_init(ttp_ctx *ctx, int *argc, char ***argv);
/* Fill a ttp_comm over the given communicator (MPI_COMM_WORLD in the
 * command line; the MPI_Comm must outlive the ttp_comm), with the ScaLAPACK
 * Gram builder (mpi/ttp_scalapack.h) as its `gram`, and the rank's place
 * on its node (node_rank, node_size, from MPI_Comm_split_type SHARED).
 * Collective over `comm`. */
void ttp_mpi_comm(ttp_comm *c, MPI_Comm *comm);
/* End every rank now with the given exit code (after the message is printed). */
void ttp_mpi_abort(int code);
void ttp_mpi_finalize(void);

#ifdef __cplusplus
}
#endif
#endif /* TTP_MPI_H */
