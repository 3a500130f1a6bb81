mod checks;
mod correlate;
mod evaluate;
