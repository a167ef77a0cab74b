# The one place where sklearn_spectral talks to OpenMP.
#
# Every Cython module that needs an OpenMP routine cimports it from here, never
# from ``openmp`` or ``omp.h`` directly. When the extension is compiled without
# OpenMP (``-Dopenmp=disabled``, or a compiler without it), ``_OPENMP`` is not
# defined: the routines below are replaced by one-thread stand-ins, ``prange``
# compiles to a plain serial loop, and the module imports and runs unchanged.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define SKSPECTRAL_OPENMP_ENABLED 1
    #else
        #define SKSPECTRAL_OPENMP_ENABLED 0
        static inline int sks_omp_one(void) { return 1; }
        static inline int sks_omp_zero(void) { return 0; }
        #define omp_get_max_threads() sks_omp_one()
        #define omp_get_num_threads() sks_omp_one()
        #define omp_get_thread_num() sks_omp_zero()
    #endif
    """
    bint SKSPECTRAL_OPENMP_ENABLED

    int omp_get_max_threads() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil


cpdef int _openmp_effective_n_threads(n_threads=*, bint only_physical_cores=*)
