//! Luota: failure drills for Stripe webhook handlers.
//!
//! Data flows one way (see DESIGN.md):
//! drill file ─load─▶ [`drill::Drill`] ─plan─▶ [`plan::Plan`] ─deliver─▶ deliveries
//! ─check─▶ observations ─judge─▶ [`record::RunRecord`] ─report─▶ terminal · JSON.

pub mod cli;
pub mod demo;
pub mod exit;
pub mod stripe;
