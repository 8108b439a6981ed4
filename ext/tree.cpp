// The rules implemented here are stated in tree.h and DESIGN.md (MCTS); the pure-Python
// reference (xtra_bench/search/reference.py) implements them independently, operation for
// operation in the same order, so that both give bit-identical results.
#include "tree.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "worker_pool.h"

namespace xtra {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function: a bijective mix of 64 bits.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// SplitMix64: one 64-bit state per root, so results do not depend on how roots meet threads.
uint64_t next_random(uint64_t* state) {
  *state += kGolden;
  return mix64(*state);
}

uint64_t root_stream(uint64_t seed, int root) {
  return mix64(seed + mix64(static_cast<uint64_t>(root)));
}

}  // namespace

Forest::Forest(int num_roots, int num_actions, const uint8_t* legal, const TreeConfig& config,
               uint64_t seed)
    : num_roots_(num_roots),
      num_actions_(num_actions),
      nodes_per_root_(config.num_simulations + 1),
      config_(config),
      seed_(seed) {
  if (num_roots < 1 || num_actions < 1) {
    throw std::invalid_argument("need at least one root and one action, got " +
                                std::to_string(num_roots) + " roots and " +
                                std::to_string(num_actions) + " actions");
  }
  if (config.num_simulations < 1) throw std::invalid_argument("num_simulations must be >= 1");
  if (config.num_simulations >= std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument("num_simulations must be < 2**31 - 1");  // node indices are int32
  }
  if (config.value_prefix_horizon < 1) {
    throw std::invalid_argument("value_prefix_horizon must be >= 1");
  }
  if (config.num_threads < 1) throw std::invalid_argument("num_threads must be >= 1");

  roots_.resize(num_roots);
  legal_offset_.resize(num_roots);
  edge_offset_.resize(num_roots);
  int64_t edges = 0;
  for (int r = 0; r < num_roots; ++r) {
    legal_offset_[r] = static_cast<int64_t>(legal_.size());
    for (int a = 0; a < num_actions; ++a) {
      if (legal[static_cast<int64_t>(r) * num_actions + a]) legal_.push_back(a);
    }
    const int num_legal = static_cast<int>(legal_.size() - legal_offset_[r]);
    if (num_legal == 0) {
      throw std::invalid_argument("root " + std::to_string(r) + " has no legal action");
    }
    roots_[r].num_legal = num_legal;
    edge_offset_[r] = edges;
    edges += static_cast<int64_t>(nodes_per_root_) * num_legal;
  }
  const int64_t nodes = static_cast<int64_t>(num_roots) * nodes_per_root_;
  // Left uninitialised: prepare() and expansion write every entry before it is read, and
  // zeroing megabytes per search would cost more than a few simulations.
  nodes_.reset(new Node[nodes]);
  edges_.reset(new Edge[edges]);
  path_nodes_.resize(nodes);
  path_edges_.resize(nodes);
  ties_.resize(legal_.size());
  scores_.resize(legal_.size());
  if (config.num_threads > 1 && num_roots > 1) {
    pool_ = std::make_unique<WorkerPool>(config.num_threads < num_roots ? config.num_threads
                                                                        : num_roots);
  }
}

Forest::~Forest() = default;

template <class Body>
void Forest::for_each_root(Body body) {
  auto chunk = [](void* context, int begin, int end) {
    Body& run = *static_cast<Body*>(context);
    for (int r = begin; r < end; ++r) run(r);
  };
  if (pool_) {
    pool_->run(num_roots_, chunk, &body);
  } else {
    chunk(&body, 0, num_roots_);
  }
}

void Forest::check_inputs(const float* array, int64_t size, const char* name) const {
  // An all-ones exponent marks NaN and infinity; OR-ing the test keeps the loop vectorisable.
  uint32_t non_finite = 0;
  for (int64_t i = 0; i < size; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &array[i], sizeof bits);
    non_finite |= (bits & 0x7f800000u) == 0x7f800000u;
  }
  if (non_finite) throw std::invalid_argument(std::string(name) + " contains NaN or infinity");
}

void Forest::prepare(const float* priors, const float* noise) {
  const int64_t size = static_cast<int64_t>(num_roots_) * num_actions_;
  check_inputs(priors, size, "priors");
  if (noise != nullptr) check_inputs(noise, size, "noise");
  for_each_root([&](int r) { prepare_root(r, priors, noise); });
  simulations_done_ = 0;
  prepared_ = true;
  awaiting_backup_ = false;
}

void Forest::prepare_root(int r, const float* priors, const float* noise) {
  Root& root = roots_[r];
  root.num_nodes = 1;
  root.path_length = 0;
  root.q_min = std::numeric_limits<double>::infinity();
  root.q_max = -std::numeric_limits<double>::infinity();
  root.rng = root_stream(seed_, r);
  // The root is a reset point: its children's rewards are their own value prefixes. Its visit
  // count starts at 1 without a value, as in EfficientZero, so N at the root is the number of
  // simulations done.
  nodes_[node_base(r)] = Node{0.0, 0.0, 1, true};
  const int32_t* legal = &legal_[legal_offset_[r]];
  const int64_t row = static_cast<int64_t>(r) * num_actions_;
  const int64_t base = edge_base(r, 0);
  const double f = config_.exploration_fraction;
  for (int k = 0; k < root.num_legal; ++k) {
    double prior = priors[row + legal[k]];
    if (noise != nullptr) {
      prior = prior * (1.0 - f) + static_cast<double>(noise[row + legal[k]]) * f;
    }
    edges_[base + k] = Edge{prior, 0.0, 0, 0};
  }
}

void Forest::traverse(int64_t* parent_slots, int64_t* actions, uint8_t* leaf_reset) {
  check_prepared("traverse");
  if (awaiting_backup_) throw std::logic_error("traverse() twice without backpropagate()");
  if (simulations_done_ == config_.num_simulations) {
    throw std::logic_error("all " + std::to_string(config_.num_simulations) +
                           " simulations are done; call prepare() to start a new search");
  }
  for_each_root([&](int r) { traverse_root(r, parent_slots + r, actions + r, leaf_reset + r); });
  awaiting_backup_ = true;
}

void Forest::traverse_root(int r, int64_t* parent_slot, int64_t* action, uint8_t* leaf_reset) {
  const int64_t path = node_base(r);
  int node = 0;
  int length = 0;
  double mean_q = 0.0;
  for (;;) {
    const int edge = select_edge(r, node, length == 0, mean_q, &mean_q);
    path_nodes_[path + length] = node;
    path_edges_[path + length] = edge;
    ++length;
    const int child = edges_[edge_base(r, node) + edge].child;
    if (child == 0) {
      *parent_slot = node;
      *action = legal_[legal_offset_[r] + edge];
      break;
    }
    node = child;
  }
  roots_[r].path_length = length;
  *leaf_reset = length % config_.value_prefix_horizon == 0;  // the leaf's depth is `length`
}

int Forest::select_edge(int r, int node, bool is_root, double parent_mean_q, double* mean_q) {
  Root& root = roots_[r];
  const int num_legal = root.num_legal;
  const int64_t base = edge_base(r, node);
  const Edge* edges = &edges_[base];

  // An unvisited child is valued at the mean Q of its parent (EfficientZero's estimate). The
  // cached Q of an unvisited edge is 0, so summing every edge adds nothing but avoids branches.
  double q_sum = 0.0;
  int visited = 0;
  for (int k = 0; k < num_legal; ++k) {
    q_sum += edges[k].q;
    visited += edges[k].visits > 0;
  }
  if (is_root) {
    *mean_q = visited > 0 ? q_sum / visited : 0.0;
  } else {
    *mean_q = (parent_mean_q + q_sum) / (visited + 1);
  }

  const double n = nodes_[node_base(r) + node].visits - 1;
  const double exploration =
      (config_.pb_c_init + std::log((n + config_.pb_c_base + 1.0) / config_.pb_c_base)) *
      std::sqrt(n);
  const double q_min = root.q_min;
  const double q_range = root.q_max - root.q_min;
  const double q_scale = q_range < kMinQRange ? kMinQRange : q_range;

  // Scores first, ties in a second pass: the arithmetic runs faster without the hard-to-predict
  // comparisons in the same loop.
  double* scores = &scores_[legal_offset_[r]];
  const bool normalise = q_range > 0.0;  // Q stays as it is until two Qs differ
  for (int k = 0; k < num_legal; ++k) {
    const Edge& edge = edges[k];
    double value = edge.visits > 0 ? edge.q : *mean_q;
    value = normalise ? (value - q_min) / q_scale : value;
    value = value < 0.0 ? 0.0 : (value > 1.0 ? 1.0 : value);
    scores[k] = edge.prior * exploration / (1.0 + edge.visits) + value;
  }
  int32_t* ties = &ties_[legal_offset_[r]];
  int num_ties = 0;
  double best = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < num_legal; ++k) {
    if (scores[k] > best) {
      best = scores[k];
      ties[0] = k;
      num_ties = 1;
    } else if (scores[k] >= best - kTieTolerance) {
      ties[num_ties++] = k;
    }
  }
  if (num_ties == 1) return ties[0];
  return ties[next_random(&root.rng) % static_cast<uint64_t>(num_ties)];
}

void Forest::backpropagate(const float* values, const float* value_prefixes, const float* priors) {
  if (!awaiting_backup_) throw std::logic_error("backpropagate() without a traverse() before it");
  check_inputs(values, num_roots_, "values");
  check_inputs(value_prefixes, num_roots_, "value_prefixes");
  check_inputs(priors, static_cast<int64_t>(num_roots_) * num_actions_, "priors");
  for_each_root([&](int r) {
    backpropagate_root(r, values[r], value_prefixes[r],
                       priors + static_cast<int64_t>(r) * num_actions_);
  });
  awaiting_backup_ = false;
  ++simulations_done_;
}

void Forest::backpropagate_root(int r, double value, double value_prefix, const float* priors) {
  Root& root = roots_[r];
  Node* nodes = &nodes_[node_base(r)];
  const int32_t* path_nodes = &path_nodes_[node_base(r)];
  const int32_t* path_edges = &path_edges_[node_base(r)];
  const int length = root.path_length;

  // Expansion: the leaf takes the next free node, which is also its latent slot.
  const int leaf = root.num_nodes++;
  nodes[leaf] = Node{0.0, value_prefix, 0, length % config_.value_prefix_horizon == 0};
  const int32_t* legal = &legal_[legal_offset_[r]];
  const int64_t leaf_base = edge_base(r, leaf);
  for (int k = 0; k < root.num_legal; ++k) {
    edges_[leaf_base + k] = Edge{priors[legal[k]], 0.0, 0, 0};
  }
  edges_[edge_base(r, path_nodes[length - 1]) + path_edges[length - 1]].child = leaf;

  // Backup: each node takes the value seen from it, then turns it into its parent's view.
  const double discount = config_.discount;
  double v = value;
  int node = leaf;
  for (int i = length - 1; i >= 0; --i) {
    Node& child = nodes[node];
    const Node& parent = nodes[path_nodes[i]];
    child.value_sum += v;
    child.visits += 1;
    const double reward =
        parent.is_reset ? child.value_prefix : child.value_prefix - parent.value_prefix;
    const double q = reward + discount * (child.value_sum / child.visits);
    Edge& edge = edges_[edge_base(r, path_nodes[i]) + path_edges[i]];
    edge.q = q;
    edge.visits = child.visits;
    if (q < root.q_min) root.q_min = q;
    if (q > root.q_max) root.q_max = q;
    v = reward + discount * v;
    node = path_nodes[i];
  }
  nodes[0].value_sum += v;
  nodes[0].visits += 1;
}

void Forest::check_prepared(const char* what) const {
  if (!prepared_) throw std::logic_error(std::string(what) + "() before prepare()");
}

void Forest::visit_counts(int32_t* out) const {
  check_prepared("visit_counts");
  for (int r = 0; r < num_roots_; ++r) {
    int32_t* row = out + static_cast<int64_t>(r) * num_actions_;
    for (int a = 0; a < num_actions_; ++a) row[a] = 0;
    const int64_t base = edge_base(r, 0);
    for (int k = 0; k < roots_[r].num_legal; ++k) {
      row[legal_[legal_offset_[r] + k]] = edges_[base + k].visits;
    }
  }
}

void Forest::root_values(float* out) const {
  check_prepared("root_values");
  for (int r = 0; r < num_roots_; ++r) {
    const Node& root = nodes_[node_base(r)];
    out[r] = static_cast<float>(root.value_sum / root.visits);
  }
}

void Forest::q_values(float* out) const {
  check_prepared("q_values");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int r = 0; r < num_roots_; ++r) {
    float* row = out + static_cast<int64_t>(r) * num_actions_;
    for (int a = 0; a < num_actions_; ++a) row[a] = nan;
    const int64_t base = edge_base(r, 0);
    for (int k = 0; k < roots_[r].num_legal; ++k) {
      if (edges_[base + k].visits > 0) {
        row[legal_[legal_offset_[r] + k]] = static_cast<float>(edges_[base + k].q);
      }
    }
  }
}

}  // namespace xtra
