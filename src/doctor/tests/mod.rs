mod evaluate;
