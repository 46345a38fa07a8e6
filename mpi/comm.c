/*
 * comm.c — ttp_comm over MPI, and process start/stop.  MPI errors are
 * returned (MPI_ERRORS_RETURN) so that the library can report them with
 * context instead of MPI killing the job with a bare code.
 */
#include "ttp_mpi.h"
#include "ttp_scalapack.h"

#include <stdlib.h>
#include <string.h>

const char *ttp_mpi_errstr(int rc)
{
    /* One buffer per thread would be needed with MPI_THREAD_MULTIPLE;
     * ttpredict initialises MPI_THREAD_FUNNELED, so a static is safe. */
    static char buf[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) snprintf(buf, sizeof buf, "MPI error %d", rc);
    buf[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING] = '\0';
    return buf;
}

ttp_status ttp_mpi_init(ttp_ctx *ctx, int *argc, char ***argv)
{
    ttp_status st = TTP_OK;
    int provided = 0, inited = 0;
    MPI_Initialized(&inited);
    if (!inited)
        TTP_MPI(ctx, st, done, MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided),
                "MPI_Init_thread");
    TTP_MPI(ctx, st, done, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
            "MPI_Comm_set_errhandler");
    TTP_MPI(ctx, st, done, MPI_Comm_rank(MPI_COMM_WORLD, &ctx->rank), "MPI_Comm_rank");
done:
    return st;
}

/* The one place that reads a ttp_comm's MPI communicator: its own for one
 * from ttp_mpi_comm, MPI_COMM_SELF for the serial one (impl NULL).  The
 * members below are only installed by ttp_mpi_comm, so they get the former. */
static MPI_Comm comm_of(const ttp_comm *c)
{
    return c->impl != NULL ? *(MPI_Comm *)c->impl : MPI_COMM_SELF;
}

ttp_status ttp_mpi_comm_of(ttp_ctx *ctx, const ttp_comm *c, MPI_Comm *out)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited)
        return TTP_ERR(ctx, TTP_ERR_UNSUPPORTED,
                       "MPI is not initialised (call ttp_mpi_init first, even on one rank: BLACS "
                       "runs over MPI)");
    if (c->impl == NULL && c->size != 1)
        return TTP_ERR(ctx, TTP_ERR_INTERNAL, "a ttp_comm of %d ranks without an MPI communicator", c->size);
    *out = comm_of(c);
    return TTP_OK;
}

/* In-place reduction of n doubles with op, in chunks: MPI counts are int,
 * so at most 2^28 doubles go per call. */
static ttp_status allreduce_chunked(const ttp_comm *c, double *buf, int64_t n, MPI_Op op, const char *what,
                                    ttp_ctx *ctx)
{
    ttp_status st = TTP_OK;
    const int64_t chunk = (int64_t)1 << 28;
    for (int64_t off = 0; off < n; off += chunk) {
        int cnt = (int)(n - off < chunk ? n - off : chunk);
        TTP_MPI(ctx, st, done, MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_DOUBLE, op, comm_of(c)),
                "%s of %d doubles", what, cnt);
    }
done:
    return st;
}

static ttp_status mpi_allreduce_sum(const ttp_comm *c, double *buf, int64_t n, ttp_ctx *ctx)
{
    return allreduce_chunked(c, buf, n, MPI_SUM, "MPI_Allreduce", ctx);
}

static ttp_status mpi_allreduce_max(const ttp_comm *c, double *buf, int64_t n, ttp_ctx *ctx)
{
    return allreduce_chunked(c, buf, n, MPI_MAX, "MPI_Allreduce(max)", ctx);
}

static ttp_status mpi_bcast(const ttp_comm *c, void *buf, int64_t bytes, int root, ttp_ctx *ctx)
{
    ttp_status st = TTP_OK;
    const int64_t chunk = (int64_t)1 << 30;
    for (int64_t off = 0; off < bytes; off += chunk) {
        int cnt = (int)(bytes - off < chunk ? bytes - off : chunk);
        TTP_MPI(ctx, st, done, MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, comm_of(c)),
                "MPI_Bcast of %d bytes", cnt);
    }
done:
    return st;
}

static ttp_status mpi_max_int(const ttp_comm *c, int *val, ttp_ctx *ctx)
{
    ttp_status st = TTP_OK;
    TTP_MPI(ctx, st, done, MPI_Allreduce(MPI_IN_PLACE, val, 1, MPI_INT, MPI_MAX, comm_of(c)),
            "MPI_Allreduce(max)");
done:
    return st;
}

void ttp_mpi_comm(ttp_comm *c, MPI_Comm *comm)
{
    MPI_Comm_rank(*comm, &c->rank);
    MPI_Comm_size(*comm, &c->size);
    c->impl = comm;
    c->allreduce_sum = mpi_allreduce_sum;
    c->allreduce_max = mpi_allreduce_max;
    c->gram = &ttp_scalapack_ops;
    c->bcast = mpi_bcast;
    c->allreduce_max_int = mpi_max_int;
    /* The node-local rank, for one device per rank (ttp_jac_plan_set_device);
     * unknown (-1) if the split fails, and the device then comes from the
     * launcher's environment. */
    c->node_rank = -1;
    c->node_size = 0;
    {
        MPI_Comm node = MPI_COMM_NULL;
        if (MPI_Comm_split_type(*comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS &&
            node != MPI_COMM_NULL) {
            if (MPI_Comm_rank(node, &c->node_rank) != MPI_SUCCESS ||
                MPI_Comm_size(node, &c->node_size) != MPI_SUCCESS)
                c->node_rank = -1, c->node_size = 0;
            MPI_Comm_free(&node);
        }
    }
}

void ttp_mpi_abort(int code)
{
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (inited && !fin) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void ttp_mpi_finalize(void)
{
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (inited && !fin) MPI_Finalize();
}
