//! Luota: failure drills for Stripe webhook handlers.
//!
//! Data flows one way (see DESIGN.md):
//! drill file ─[`drill`]─▶ [`drill::Drill`] ─[`plan`]─▶ [`plan::Plan`]
//! ─[`deliver`]─▶ deliveries ─[`check`]─▶ observations ─[`judge`]─▶
//! [`record::RunRecord`] ─[`report`]─▶ terminal · JSON.
//! [`runner`] drives that flow for each drill; [`cli`] is the thin front.

pub mod check;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod deploy;
pub mod drill;
pub mod dry_run;
pub mod exit;
pub mod judge;
pub mod plan;
pub mod record;
pub mod report;
pub mod runner;
pub mod safety;
pub mod stripe;
pub mod target;
