// Batched MCTS with EfficientZero's semantics (value prefixes, min-max normalised Q, pUCT).
//
// A Forest holds one search tree per root. Roots may have different legal actions (roots of
// different games in one batch); every node of a root's tree shares that root's legal actions.
// One search is: prepare() once, then num_simulations times traverse() (which leaf to expand)
// and backpropagate() (the network's outputs for those leaves). Arrays are row-major with one
// row per root; the columns span the whole action space (num_actions), legal or not.
//
// Storage is contiguous per root and sized once: num_simulations + 1 nodes, each with one edge
// per legal action. A node's index in its root's block is also its latent slot: the root is slot
// 0 and the node expanded by simulation s is slot s + 1, so the caller can keep latent states
// in a [num_simulations + 1, num_roots, ...] pool and gather parents by (slot, root).
#ifndef XTRA_BENCH_EXT_TREE_H_
#define XTRA_BENCH_EXT_TREE_H_

#include <cstdint>
#include <memory>
#include <vector>

namespace xtra {

class WorkerPool;

// Search settings; the defaults are EfficientZero's.
struct TreeConfig {
  int num_simulations = 50;           // simulations per search (nodes per root = this + 1)
  double discount = 0.997;            // discount per tree level
  double pb_c_base = 19652.0;         // pUCT c2
  double pb_c_init = 1.25;            // pUCT c1
  double exploration_fraction = 0.25; // weight of the caller's noise in the root priors
  int value_prefix_horizon = 5;       // the value prefix restarts at depths divisible by this
  int num_threads = 1;                // threads that split the roots (1: the calling thread only)
};

// Scores within this of the best one are ties, broken by the root's seeded generator.
constexpr double kTieTolerance = 1e-6;
// Smallest Q range used to normalise Q, so that tiny ranges do not blow up differences.
constexpr double kMinQRange = 0.01;

class Forest {
 public:
  // legal: [num_roots * num_actions], non-zero where an action is legal; every root needs one.
  // seed: with the same inputs and seed, every search gives the same visit counts.
  // Throws std::invalid_argument on bad sizes or settings.
  Forest(int num_roots, int num_actions, const uint8_t* legal, const TreeConfig& config,
         uint64_t seed);
  ~Forest();
  Forest(const Forest&) = delete;
  Forest& operator=(const Forest&) = delete;

  int simulations_done() const { return simulations_done_; }

  // Starts a new search: resets every tree and the tie-breaking generators, and expands the
  // roots with priors [num_roots * num_actions] (read on legal actions only). With noise (same
  // shape; nullptr for none), a root prior becomes (1 - f) * prior + f * noise. Inputs to this
  // and backpropagate() must be finite (std::invalid_argument otherwise).
  void prepare(const float* priors, const float* noise);

  // Selects one leaf per root. Writes, per root, the latent slot of the leaf's parent, the action
  // (a column of the action space) leading to the leaf, and 1 where the leaf sits at a reset
  // depth (its reward state must be zeroed before its children use it). Throws std::logic_error
  // when called out of turn or after the last simulation.
  void traverse(int64_t* parent_slots, int64_t* actions, uint8_t* leaf_reset);

  // Expands the leaves chosen by the last traverse() with their predicted value [num_roots],
  // value prefix [num_roots] and priors [num_roots * num_actions] (read on legal actions only),
  // then backs the values up to the roots. Throws std::logic_error when called out of turn.
  void backpropagate(const float* values, const float* value_prefixes, const float* priors);

  // Root outputs: visits per action [num_roots * num_actions] (0 where illegal), value
  // (value_sum / visits) [num_roots], and Q per action [num_roots * num_actions] (NaN where
  // illegal or unvisited). Throw std::logic_error before prepare().
  void visit_counts(int32_t* out) const;
  void root_values(float* out) const;
  void q_values(float* out) const;

 private:
  struct Node {
    double value_sum;
    double value_prefix;
    int32_t visits;
    bool is_reset;  // children's rewards are their own prefixes, not differences
  };
  // The step from a node to one child; the child's numbers are cached here at each backup so
  // that selection reads one contiguous block per node.
  struct Edge {
    double prior;
    double q;        // r + discount * V(child); 0 while unvisited
    int32_t visits;  // the child's visits
    int32_t child;   // the child's node index; 0 while unexpanded
  };
  // Per-root bookkeeping; everything else of a root lives in the flat arrays below.
  struct Root {
    int32_t num_legal;
    int32_t num_nodes;
    int32_t path_length;  // nodes on the last traversed path, root included, leaf excluded
    double q_min;
    double q_max;
    uint64_t rng;
  };

  template <class Body>
  void for_each_root(Body body);
  void prepare_root(int root, const float* priors, const float* noise);
  void traverse_root(int root, int64_t* parent_slot, int64_t* action, uint8_t* leaf_reset);
  void backpropagate_root(int root, double value, double value_prefix, const float* priors);
  int select_edge(int root, int node, bool is_root, double parent_mean_q, double* mean_q);
  void check_inputs(const float* array, int64_t size, const char* name) const;
  void check_prepared(const char* what) const;

  // Edge arrays of a node: one entry per legal action of its root.
  int64_t edge_base(int root, int node) const {
    return edge_offset_[root] + static_cast<int64_t>(node) * roots_[root].num_legal;
  }
  int64_t node_base(int root) const { return static_cast<int64_t>(root) * nodes_per_root_; }

  const int num_roots_;
  const int num_actions_;
  const int nodes_per_root_;
  const TreeConfig config_;
  const uint64_t seed_;
  int simulations_done_ = 0;
  bool prepared_ = false;
  bool awaiting_backup_ = false;

  std::vector<Root> roots_;
  std::vector<int32_t> legal_;         // legal action columns, root after root
  std::vector<int64_t> legal_offset_;  // per root, into legal_ (and the tie scratch)
  std::vector<int64_t> edge_offset_;   // per root, into the edge arrays
  std::unique_ptr<Node[]> nodes_;      // nodes_per_root_ per root
  std::unique_ptr<Edge[]> edges_;      // num_legal per node, nodes_per_root_ nodes per root
  std::vector<int32_t> path_nodes_;    // nodes_per_root_ per root
  std::vector<int32_t> path_edges_;    // edge taken from each path node
  std::vector<double> scores_;         // scratch for edge scores, num_legal per root
  std::vector<int32_t> ties_;          // scratch for tied edges, num_legal per root
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace xtra

#endif  // XTRA_BENCH_EXT_TREE_H_
