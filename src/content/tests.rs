//! Tests of the content pack: generation, validation and writing.
