//! The helm provider of mtm (being written).
