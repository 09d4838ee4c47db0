//! murmur-hw
