/*
 * ttpredict.h — the whole library in one include.
 *
 * ttpredict predicts how many optimizer steps fine-tuning a pretrained
 * network will take, without training it.  The network is linearized at its
 * pretrained weights w₀, F(w) = F₀ + J (w − w₀); every training sample's
 * output Jacobian rows are computed (optionally projected, G = J P); the
 * ranks assemble the empirical NTK Θ = G Gᵀ and its eigenpairs with
 * ScaLAPACK; and the training of the linear model is simulated exactly in
 * function space — GD as one trajectory, SGD as an ensemble with the batch
 * schedule of real training — to give the steps until convergence, a band,
 * and the wall-clock cost.  Power laws fitted to the spectrum extend the
 * prediction to larger datasets.
 *
 * Layers (folders; each may call only the layers below it, and the build
 * enforces it: every layer is its own CMake target, see ARCHITECTURE in
 * README.md).  One header per module; every public symbol is ttp_<module>_*:
 *   core/    ttp_core.h    status codes, error context, checks, ttp_comm, batches
 *            ttp_rng.h     the counter-based generator
 *            ttp_text.h    text outputs via a temporary name, the JSON writer
 *            ttp_path.h    the files a command reads and writes, checked up front
 *            ttp_nc.h      NetCDF checks, attributes, staged writes (for the
 *                          layers that write files; needs <netcdf.h>, not included here)
 *            ttp_backend.h projection kinds and the backend interface
 *            ttp_gram.h    the distributed Gram interface (implemented in mpi/)
 *   gpu/     ttp_gpu.h     the CUDA backends' table and entry points
 *   io/      ttp_data.h    datasets: NetCDF format, IDX/CSV/.npy converters, standardization, splits
 *            ttp_model.h   layer graphs, parameter slab, NetCDF model format
 *            ttp_onnx.h    ONNX models read into layer graphs; ttp_model_load
 *            ttp_kernel.h  the kernel result and its file
 *   engine/  ttp_net.h     forward/backward engine, per-sample gradient factors, losses
 *            ttp_train.h   optimizer settings and real (data-parallel) fine-tuning
 *            ttp_proj.h    random projections, the CPU backend, backend selection
 *            ttp_jac.h     projected per-sample Jacobian rows
 *   kernel/  ttp_kbuild.h  the kernel stage over a communicator
 *   predict/ ttp_sim.h     linearized dynamics, training-time definitions, SDE
 *            ttp_fit.h     power-law fits and spectrum extrapolation
 *            ttp_predict.h the prediction pipeline and its outputs
 *            ttp_sweep.h   many optimizer settings from one kernel
 *            ttp_validate.h predictions against real fine-tuning over a grid
 *            ttp_report.h  SVG plots
 *   mpi/     ttp_mpi.h, ttp_scalapack.h: the MPI communicator and the
 *            ScaLAPACK Gram builder; not included here, so that this header
 *            does not expose MPI: a program that runs the kernel stage
 *            includes ttp_mpi.h itself (as in the example).
 *
 * Conventions: functions return ttp_status and record the message and a
 * trace in the caller's ttp_ctx; the library never prints (except progress
 * lines when ctx->verbose) and never exits; objects come in
 * _create/_destroy(&p) pairs; functions marked collective must be called by
 * every rank of the communicator.
 *
 * Example: predict on two ranks (error handling shortened).
 *
 *     #include "ttpredict.h"
 *     #include "ttp_mpi.h"                    // the MPI communicator (mpi/)
 *
 *     ttp_ctx ctx; ttp_ctx_init(&ctx);
 *     MPI_Comm world = MPI_COMM_WORLD; ttp_comm comm;
 *     ttp_mpi_init(&ctx, &argc, &argv);  ttp_mpi_comm(&comm, &world);
 *     ttp_model *m; ttp_data *d; ttp_prediction *p;
 *     ttp_model_read(&ctx, "data/default-model.nc", &m);
 *     ttp_data_read(&ctx, "data/default-data.nc", &d);
 *     ttp_predict_opts o; ttp_predict_opts_default(&o);
 *     o.opt.lr = 0.01; o.opt.batch = 64;            // SGD, |B| = 64
 *     // o.kernel: projection etc. (default: kron D' = 1024 on large models)
 *     if (ttp_predict_run(&ctx, &comm, m, d, &o, &p) != TTP_OK)
 *         fprintf(stderr, "%s\n%s", ctx.msg, ctx.trace);
 *     else if (comm.rank == 0)
 *         ttp_predict_print(stdout, p, &o);     // steps, band, wall-clock
 *     ttp_prediction_destroy(&p); ttp_data_destroy(&d); ttp_model_destroy(&m);
 *     ttp_mpi_finalize();
 */
#ifndef TTPREDICT_H
#define TTPREDICT_H

#include "ttp_backend.h"
#include "ttp_core.h"
#include "ttp_data.h"
#include "ttp_fit.h"
#include "ttp_gpu.h"
#include "ttp_gram.h"
#include "ttp_jac.h"
#include "ttp_kbuild.h"
#include "ttp_kernel.h"
#include "ttp_model.h"
#include "ttp_net.h"
#include "ttp_onnx.h"
#include "ttp_path.h"
#include "ttp_predict.h"
#include "ttp_proj.h"
#include "ttp_report.h"
#include "ttp_rng.h"
#include "ttp_sim.h"
#include "ttp_sweep.h"
#include "ttp_text.h"
#include "ttp_train.h"
#include "ttp_validate.h"

#endif /* TTPREDICT_H */
