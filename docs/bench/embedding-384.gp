set terminal pngcairo noenhanced size 900,600 font 'sans,11'
set output 'docs/bench/embedding-384.png'
set title 'embedding-384 (100000 x 384): recall@10 vs queries per second, 1 thread, k = 10'
set xlabel 'recall@10'
set ylabel 'queries per second (1 thread)'
set logscale y
set grid
set key bottom left
plot '-' with linespoints pt 7 title 'hnswlib', '-' with linespoints pt 7 title 'hnswstore-hnsw', '-' with points pt 7 ps 1.5 title 'hnswstore-flat', '-' with linespoints pt 7 title 'faiss-hnsw', '-' with linespoints pt 7 title 'usearch'
0.42280 7900.0
0.53860 6181.0
0.64080 4224.1
0.69970 3454.8
0.81710 2404.5
0.86890 2286.8
0.93610 1377.9
0.97270 1098.4
0.98660 831.1
0.99660 669.8
e
0.42350 8490.4
0.53980 5861.2
0.63790 4609.1
0.69500 3890.9
0.81680 2724.6
0.86810 2014.2
0.93630 1439.0
0.97250 1119.4
0.98650 770.6
0.99660 622.7
e
1.00000 90.6
e
0.36410 3680.3
0.52160 2701.7
0.65610 1884.4
0.73130 1546.8
0.85890 903.7
0.90470 726.4
0.96200 525.9
0.98680 327.3
0.99450 270.5
0.99850 172.5
e
0.41320 3029.2
0.53550 2454.8
0.63600 1758.1
0.69100 1577.7
0.81520 1170.0
0.86950 928.9
0.93590 643.6
0.97250 385.4
0.98680 318.3
0.99650 213.6
e
