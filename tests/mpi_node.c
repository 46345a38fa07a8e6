/*
 * mpi_node.c — each rank's place on its node, as the MPI communicator
 * records it for choosing a device (ttp_comm.node_rank / node_size, from
 * MPI_Comm_split_type SHARED): on every node the node ranks are 0..n−1, each
 * once, with n the node's rank count; the node sizes add up to the world
 * size; and ttp_jac_plan_set_device accepts any place for a CPU plan (the
 * device policy applies to the device stage only).  Run at 1, 2 and 4
 * ranks (one machine: one node).
 */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "ttp_jac.h"
#include "ttp_mpi.h"
#include "ttp_test.h"

int main(int argc, char **argv)
{
    ttp_ctx ctx;
    ttp_ctx_init(&ctx);
    if (ttp_mpi_init(&ctx, &argc, &argv) != TTP_OK) {
        fprintf(stderr, "MPI init: %s\n", ctx.msg);
        return 1;
    }
    MPI_Comm world = MPI_COMM_WORLD;
    ttp_comm comm;
    ttp_mpi_comm(&comm, &world);
    CHECK(comm.node_size >= 1 && comm.node_size <= comm.size);
    CHECK(comm.node_rank >= 0 && comm.node_rank < comm.node_size);
    /* one-hot of (node rank) summed over the ranks of this node: every slot once */
    MPI_Comm node;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm.rank, MPI_INFO_NULL, &node);
    int *hot = calloc((size_t)comm.size, sizeof *hot), *sum = calloc((size_t)comm.size, sizeof *sum);
    if (comm.node_rank >= 0 && comm.node_rank < comm.size) hot[comm.node_rank] = 1;
    MPI_Allreduce(hot, sum, comm.size, MPI_INT, MPI_SUM, node);
    for (int i = 0; i < comm.size; i++) CHECK(sum[i] == (i < comm.node_size ? 1 : 0));
    MPI_Comm_free(&node);
    free(hot), free(sum);
    /* node sizes counted once per node (by its node rank 0) add up to the world */
    int mine = comm.node_rank == 0 ? comm.node_size : 0, total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_INT, MPI_SUM, world);
    CHECK(total == comm.size);
    /* the serial communicator does not know its place */
    ttp_comm serial;
    ttp_comm_serial(&serial);
    CHECK(serial.node_rank == -1 && serial.node_size == 0);
    /* a CPU plan takes any place; the policy binds the device stage only */
    {
        const int64_t shape[3] = {3, 1, 1};
        ttp_model *m = NULL;
        ttp_layer L;
        memset(&L, 0, sizeof L);
        L.kind = TTP_LAYER_DENSE, L.input[0] = -1, L.input[1] = -1, L.units = 2, L.trainable = 1;
        snprintf(L.name, sizeof L.name, "fc");
        CHECK_OK(&ctx, ttp_model_create(&ctx, shape, &m));
        if (m) CHECK_OK(&ctx, ttp_model_add(&ctx, m, &L, NULL));
        if (m) CHECK_OK(&ctx, ttp_model_build(&ctx, m));
        ttp_jac_plan *p = NULL;
        if (m) CHECK_OK(&ctx, ttp_jac_plan_create(&ctx, m, TTP_PROJ_EXACT, 0, 1, "cpu", &p));
        if (p) CHECK_OK(&ctx, ttp_jac_plan_set_device(&ctx, p, comm.node_rank, 1000, "cpu"));
        if (p) CHECK(strcmp(ttp_jac_plan_backend(p), "cpu") == 0);
        ttp_jac_plan_destroy(&p);
        ttp_model_destroy(&m);
    }
    int rc = ttp_test_end("mpi_node"), any = rc;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, world);
    ttp_mpi_finalize();
    return any;
}
