//! murmur-export
