set terminal pngcairo noenhanced size 900,600 font 'sans,11'
set output 'docs/bench/fashion-mnist.png'
set title 'fashion-mnist (60000 x 784): recall@10 vs queries per second, 1 thread, k = 10'
set xlabel 'recall@10'
set ylabel 'queries per second (1 thread)'
set logscale y
set grid
set key bottom left
plot '-' with linespoints pt 7 title 'hnswlib', '-' with linespoints pt 7 title 'hnswstore-hnsw', '-' with points pt 7 ps 1.5 title 'hnswstore-flat', '-' with linespoints pt 7 title 'faiss-hnsw', '-' with linespoints pt 7 title 'usearch'
0.93530 10704.9
0.96890 8859.5
0.98610 6308.9
0.99150 5273.8
0.99620 3584.6
0.99760 3349.9
0.99830 2737.2
0.99880 2024.1
0.99900 1713.5
0.99930 977.0
e
0.93190 12151.9
0.96870 9267.8
0.98470 6933.8
0.98930 5633.1
0.99510 4053.8
0.99660 3078.2
0.99820 2538.0
0.99890 1902.0
0.99900 1698.2
0.99920 1256.5
e
1.00000 79.7
e
0.90850 3714.1
0.96460 2643.6
0.98420 2170.2
0.99050 1957.0
0.99670 1421.7
0.99830 1086.2
0.99890 876.2
0.99950 660.7
0.99950 531.6
0.99960 379.6
e
0.93390 3874.8
0.96930 2800.5
0.98620 2320.6
0.99180 1978.0
0.99620 1356.3
0.99760 1221.7
0.99830 865.4
0.99870 695.1
0.99880 565.2
0.99910 428.7
e
