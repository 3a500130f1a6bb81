mod evaluate;
mod correlate;
