//! The migrations are embedded by a macro (refinery's `embed_migrations!`), which cargo does not
//! know reads `migrations/`: without this, a new migration file would not rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
