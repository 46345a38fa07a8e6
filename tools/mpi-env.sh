# Source this: lets Open MPI run as root (CI containers) and with more ranks
# than cores, and keeps OpenBLAS to one thread per rank.  Harmless otherwise.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Shared-memory transport without ptrace-based single copy (containers forbid it).
export OMPI_MCA_btl_vader_single_copy_mechanism=none
