//! The Kubernetes provider of mtm (being written).
