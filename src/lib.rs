//! murmur
