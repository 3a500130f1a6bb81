mod correlate;
mod evaluate;
