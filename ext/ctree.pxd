# Declarations of the C++ tree (tree.h) for the Cython binding in ctree.pyx.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t


cdef extern from "tree.h" namespace "xtra" nogil:
    cdef cppclass TreeConfig:
        int num_simulations
        double discount
        double pb_c_base
        double pb_c_init
        double exploration_fraction
        int value_prefix_horizon
        int num_threads

    cdef cppclass Forest:
        Forest(int num_roots, int num_actions, const uint8_t* legal, const TreeConfig& config,
               uint64_t seed) except +
        int simulations_done()
        void prepare(const float* priors, const float* noise) except +
        void traverse(int64_t* parent_slots, int64_t* actions, uint8_t* leaf_reset) except +
        void backpropagate(const float* values, const float* value_prefixes,
                           const float* priors) except +
        void visit_counts(int32_t* out) except +
        void root_values(float* out) except +
        void q_values(float* out) except +
