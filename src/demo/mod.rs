//! The embedded staging app `demo` (see README "The demo target").
