// How many CPU threads the core's batched loops may use.
#pragma once

namespace groot {

// Defaults to the hardware concurrency; set_num_threads(n < 1) restores the default.
int num_threads();
void set_num_threads(int n);

}  // namespace groot
