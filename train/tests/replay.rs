//! murmur's simulators replay episodes recorded from the implementations
//! they copy (one test binary: each links libtorch once).

#[path = "replay/pettingzoo_spread.rs"]
mod pettingzoo_spread;
#[path = "replay/smax_battle.rs"]
mod smax_battle;
