//! The Azure Monitor Logs query API: credentials, the HTTP exchange with its retries, and the
//! response and error bodies. The rest of the program sees `QueryResult` or `QueryFailure`.

pub mod response;
pub mod auth;
