"""Always-on tests of the report parsers, on small report files written here from the documented
formats (hand-made designs and numbers, not copies of real reports).

The other ``test_report_*`` files import the samples and writers from this module.  Expected
values are read off the sample texts below.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from spvit_fpga.errors import UserError
from spvit_fpga.reports._text import Span, parse_count, parse_ns, read_tables
from spvit_fpga.reports.cosim_rpt import parse_cosim
from spvit_fpga.reports.csynth_rpt import parse_csynth_rpt
from spvit_fpga.reports.csynth_xml import parse_csynth_xml
from spvit_fpga.reports.vivado_timing import parse_vivado_timing
from spvit_fpga.reports.vivado_util import parse_vivado_util

# ------------------------------------------------------------------------------------------------
# Vivado HLS 2019.2-style per-function XML: flush left, DSP48E, a range, undef average, nested
# loops and the same inner label under two outer loops, resources in a shuffled order.
# ------------------------------------------------------------------------------------------------
VIVADO_XML = """<profile>

<ReportVersion>
<Version>2019.2</Version>
</ReportVersion>

<UserAssignments>
<unit>ns</unit>
<ProductFamily>zynquplus</ProductFamily>
<Part>xczu9eg-ffvb1156-2-e</Part>
<TopModelName>conv</TopModelName>
<TargetClockPeriod>3.33</TargetClockPeriod>
<ClockUncertainty>0.42</ClockUncertainty>
</UserAssignments>

<PerformanceEstimates>
<PipelineType>none</PipelineType>
<SummaryOfTimingAnalysis>
<unit>ns</unit>
<EstimatedClockPeriod>2.875</EstimatedClockPeriod>
</SummaryOfTimingAnalysis>
<SummaryOfOverallLatency>
<unit>clock cycles</unit>
<Best-caseLatency>12</Best-caseLatency>
<Average-caseLatency>undef</Average-caseLatency>
<Worst-caseLatency>4109</Worst-caseLatency>
<Best-caseRealTimeLatency>39.960 ns</Best-caseRealTimeLatency>
<Average-caseRealTimeLatency>undef</Average-caseRealTimeLatency>
<Worst-caseRealTimeLatency>13.683 us</Worst-caseRealTimeLatency>
<Interval-min>13</Interval-min>
<Interval-max>4110</Interval-max>
</SummaryOfOverallLatency>
<SummaryOfLoopLatency>
<ROWS>
<TripCount>
<range>
<min>1</min>
<max>64</max>
</range>
</TripCount>
<Latency>
<range>
<min>10</min>
<max>4096</max>
</range>
</Latency>
<IterationLatency>64</IterationLatency>
<INNER>
<TripCount>60</TripCount>
<Latency>61</Latency>
<PipelineII>1</PipelineII>
<PipelineDepth>3</PipelineDepth>
</INNER>
</ROWS>
<COLS>
<TripCount>8</TripCount>
<Latency>40</Latency>
<IterationLatency>5</IterationLatency>
<INNER>
<TripCount>4</TripCount>
<Latency>undef</Latency>
<PipelineII>2</PipelineII>
<PipelineDepth>2</PipelineDepth>
</INNER>
</COLS>
<Loop3>
<TripCount>undef</TripCount>
<Latency>undef</Latency>
<IterationLatency>7</IterationLatency>
</Loop3>
</SummaryOfLoopLatency>
</PerformanceEstimates>

<AreaEstimates>
<Resources>
<DSP48E>18</DSP48E>
<LUT>2345</LUT>
<FF>1999</FF>
<BRAM_18K>6</BRAM_18K>
<URAM>0</URAM>
</Resources>
<AvailableResources>
<FF>548160</FF>
<BRAM_18K>1824</BRAM_18K>
<URAM>0</URAM>
<DSP48E>2520</DSP48E>
<LUT>274080</LUT>
</AvailableResources>
</AreaEstimates>

<InterfaceSummary>
<RtlPorts>
<name>ap_clk</name>
<Object>conv</Object>
<Type>return value</Type>
<Scope></Scope>
<IOProtocol>ap_ctrl_hs</IOProtocol>
<IOConfig></IOConfig>
<Dir>in</Dir>
<Bits>1</Bits>
<Attribute>control</Attribute>
</RtlPorts>
</InterfaceSummary>

</profile>
"""

# ------------------------------------------------------------------------------------------------
# Vitis HLS 2023.1-style top-level csynth.xml: indented, FlowTarget, DSP, undef top latency,
# ModuleInformation with AVAIL_/UTIL_ siblings, an unset target II, loop Name/Slack/InstanceList.
# ------------------------------------------------------------------------------------------------
VITIS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<profile>
    <ReportVersion>
        <Version>2023.1</Version>
    </ReportVersion>
    <UserAssignments>
        <unit>ns</unit>
        <ProductFamily>zynquplus</ProductFamily>
        <Part>xck26-sfvc784-2LV-c</Part>
        <TopModelName>accel</TopModelName>
        <TargetClockPeriod>4.00</TargetClockPeriod>
        <ClockUncertainty>1.08</ClockUncertainty>
        <FlowTarget>vivado</FlowTarget>
    </UserAssignments>
    <PerformanceEstimates>
        <PipelineType>no</PipelineType>
        <SummaryOfTimingAnalysis>
            <unit>ns</unit>
            <EstimatedClockPeriod>3.104</EstimatedClockPeriod>
        </SummaryOfTimingAnalysis>
        <SummaryOfOverallLatency>
            <unit>clock cycles</unit>
            <Best-caseLatency>undef</Best-caseLatency>
            <Average-caseLatency>undef</Average-caseLatency>
            <Worst-caseLatency>undef</Worst-caseLatency>
            <Best-caseRealTimeLatency>undef</Best-caseRealTimeLatency>
            <Average-caseRealTimeLatency>undef</Average-caseRealTimeLatency>
            <Worst-caseRealTimeLatency>undef</Worst-caseRealTimeLatency>
            <Interval-min>undef</Interval-min>
            <Interval-max>undef</Interval-max>
        </SummaryOfOverallLatency>
    </PerformanceEstimates>
    <AreaEstimates>
        <Resources>
            <BRAM_18K>40</BRAM_18K>
            <DSP>300</DSP>
            <FF>51234</FF>
            <LUT>150000</LUT>
            <URAM>2</URAM>
        </Resources>
        <AvailableResources>
            <BRAM_18K>288</BRAM_18K>
            <DSP>1248</DSP>
            <FF>234240</FF>
            <LUT>117120</LUT>
            <URAM>64</URAM>
        </AvailableResources>
    </AreaEstimates>
    <ModuleInformation>
        <Module>
            <Name>accel_Pipeline_MAC</Name>
            <Loops>
                <MAC/>
            </Loops>
            <PerformanceEstimates>
                <SummaryOfTimingAnalysis>
                    <TargetClockPeriod>4.00</TargetClockPeriod>
                    <ClockUncertainty>1.08</ClockUncertainty>
                    <TargetInitiationInterval>4294967295</TargetInitiationInterval>
                    <EstimatedClockPeriod>2.870</EstimatedClockPeriod>
                </SummaryOfTimingAnalysis>
                <SummaryOfOverallLatency>
                    <Best-caseLatency>1030</Best-caseLatency>
                    <Average-caseLatency>1030</Average-caseLatency>
                    <Worst-caseLatency>1030</Worst-caseLatency>
                    <Best-caseRealTimeLatency>4.120 us</Best-caseRealTimeLatency>
                    <Average-caseRealTimeLatency>4.120 us</Average-caseRealTimeLatency>
                    <Worst-caseRealTimeLatency>4.120 us</Worst-caseRealTimeLatency>
                    <PipelineInitiationInterval>1030</PipelineInitiationInterval>
                    <PipelineType>loop auto-rewind stp (delay=0 clock cycles(s))</PipelineType>
                </SummaryOfOverallLatency>
                <SummaryOfLoopLatency>
                    <MAC>
                        <Name>MAC</Name>
                        <Slack>2.92</Slack>
                        <TripCount>512</TripCount>
                        <Latency>1028</Latency>
                        <AbsoluteTimeLatency>4.112 us</AbsoluteTimeLatency>
                        <PipelineII>2</PipelineII>
                        <PipelineDepth>6</PipelineDepth>
                        <PipelineType>yes</PipelineType>
                        <InstanceList/>
                    </MAC>
                </SummaryOfLoopLatency>
            </PerformanceEstimates>
            <AreaEstimates>
                <Resources>
                    <FF>900</FF>
                    <AVAIL_FF>234240</AVAIL_FF>
                    <UTIL_FF>~0</UTIL_FF>
                    <LUT>1100</LUT>
                    <AVAIL_LUT>117120</AVAIL_LUT>
                    <UTIL_LUT>~0</UTIL_LUT>
                    <BRAM_18K>0</BRAM_18K>
                    <AVAIL_BRAM>288</AVAIL_BRAM>
                    <UTIL_BRAM>0</UTIL_BRAM>
                    <DSP>4</DSP>
                    <AVAIL_DSP>1248</AVAIL_DSP>
                    <UTIL_DSP>~0</UTIL_DSP>
                    <URAM>0</URAM>
                    <AVAIL_URAM>64</AVAIL_URAM>
                    <UTIL_URAM>0</UTIL_URAM>
                </Resources>
            </AreaEstimates>
        </Module>
        <Module>
            <Name>accel</Name>
            <PerformanceEstimates>
                <SummaryOfTimingAnalysis>
                    <TargetClockPeriod>4.00</TargetClockPeriod>
                    <ClockUncertainty>1.08</ClockUncertainty>
                    <EstimatedClockPeriod>3.104</EstimatedClockPeriod>
                </SummaryOfTimingAnalysis>
                <SummaryOfOverallLatency>
                    <Best-caseLatency>undef</Best-caseLatency>
                    <Average-caseLatency>undef</Average-caseLatency>
                    <Worst-caseLatency>undef</Worst-caseLatency>
                    <PipelineInitiationInterval>undef</PipelineInitiationInterval>
                    <PipelineType>no</PipelineType>
                </SummaryOfOverallLatency>
            </PerformanceEstimates>
            <AreaEstimates>
                <Resources>
                    <BRAM_18K>40</BRAM_18K>
                    <AVAIL_BRAM>288</AVAIL_BRAM>
                    <UTIL_BRAM>13</UTIL_BRAM>
                    <DSP>300</DSP>
                    <AVAIL_DSP>1248</AVAIL_DSP>
                    <UTIL_DSP>24</UTIL_DSP>
                    <FF>51234</FF>
                    <AVAIL_FF>234240</AVAIL_FF>
                    <UTIL_FF>21</UTIL_FF>
                    <LUT>150002</LUT>
                    <AVAIL_LUT>117120</AVAIL_LUT>
                    <UTIL_LUT>128</UTIL_LUT>
                    <URAM>2</URAM>
                    <AVAIL_URAM>64</AVAIL_URAM>
                    <UTIL_URAM>3</UTIL_URAM>
                </Resources>
            </AreaEstimates>
        </Module>
    </ModuleInformation>
    <FIFOInformation/>
</profile>

"""

# ------------------------------------------------------------------------------------------------
# Vivado HLS 2018.3-style per-function text report: unit-less timing cells, five latency columns,
# nested loops, II achieved 3 against target 1.
# ------------------------------------------------------------------------------------------------
VIVADO_RPT_2018 = """

================================================================
== Vivado HLS Report for 'filter'
================================================================
* Date:           Mon Jan  7 10:00:00 2019

* Version:        2018.3 (Build 2405991 on Thu Dec 06 23:56:15 MST 2018)
* Project:        demo_prj
* Solution:       solution1
* Product family: zynq
* Target device:  xc7z020-clg400-1


================================================================
== Performance Estimates
================================================================
+ Timing (ns): 
    * Summary: 
    +--------+-------+----------+------------+
    |  Clock | Target| Estimated| Uncertainty|
    +--------+-------+----------+------------+
    |ap_clk  |   5.00|     4.321|        0.62|
    +--------+-------+----------+------------+

+ Latency (clock cycles): 
    * Summary: 
    +-------+-------+-------+-------+---------+
    |    Latency    |    Interval   | Pipeline|
    |  min  |  max  |  min  |  max  |   Type  |
    +-------+-------+-------+-------+---------+
    |   3001|   3001|   3002|   3002|   none  |
    +-------+-------+-------+-------+---------+

    + Detail: 
        * Instance: 
        N/A

        * Loop: 
        +----------+------+------+----------+-----------+-----------+------+----------+
        |          |    Latency  | Iteration|  Initiation Interval  | Trip |          |
        | Loop Name|  min |  max |  Latency |  achieved |   target  | Count| Pipelined|
        +----------+------+------+----------+-----------+-----------+------+----------+
        |- OUTER   |  3000|  3000|       300|          -|          -|    10|    no    |
        | + INNER  |   298|   298|         4|          3|          1|    99|    yes   |
        |- Loop 2  |     0|    20|         2|          1|          1| 0 ~ 10|    yes   |
        +----------+------+------+----------+-----------+-----------+------+----------+



================================================================
== Utilization Estimates
================================================================
* Summary: 
+-----------------+---------+-------+--------+--------+-----+
|       Name      | BRAM_18K| DSP48E|   FF   |   LUT  | URAM|
+-----------------+---------+-------+--------+--------+-----+
|DSP              |        -|      2|       -|       -|    -|
|Expression       |        -|      -|       0|     120|    -|
|Register         |        -|      -|     333|       -|    -|
+-----------------+---------+-------+--------+--------+-----+
|Total            |        1|      2|     333|     456|    0|
+-----------------+---------+-------+--------+--------+-----+
|Available        |      280|    220|  106400|   53200|    0|
+-----------------+---------+-------+--------+--------+-----+
|Utilization (%)  |    ~0   |      ~0|   ~0   |   ~0   |    0|
+-----------------+---------+-------+--------+--------+-----+

+ Detail: 
    * Instance: 
    N/A
"""

# ------------------------------------------------------------------------------------------------
# Vitis HLS 2021.2-style per-function text report: "ns" cells, absolute latency columns, "?" for
# unknown, an unlabeled loop, a wide free-text pipeline type, a DSP column.
# ------------------------------------------------------------------------------------------------
VITIS_RPT_2021 = """

================================================================
== Vitis HLS Report for 'stream_sum'
================================================================
* Date:           Tue Mar  1 09:00:00 2022

* Version:        2021.2 (Build 3367213 on Tue Oct 19 02:48:09 MDT 2021)
* Project:        sum_prj
* Solution:       solution2 (Vivado IP Flow Target)
* Product family: zynquplus
* Target device:  xczu7ev-ffvc1156-2-e


================================================================
== Performance Estimates
================================================================
+ Timing: 
    * Summary: 
    +--------+----------+----------+------------+
    |  Clock |  Target  | Estimated| Uncertainty|
    +--------+----------+----------+------------+
    |ap_clk  |  10.00 ns|  3.456 ns|     2.70 ns|
    +--------+----------+----------+------------+

+ Latency: 
    * Summary: 
    +---------+---------+----------+----------+-----+-----+------------------------------------------+
    |  Latency (cycles) |  Latency (absolute) |  Interval |                 Pipeline                 |
    |   min   |   max   |    min   |    max   | min | max |                   Type                   |
    +---------+---------+----------+----------+-----+-----+------------------------------------------+
    |        ?|        ?|         ?|         ?|    ?|    ?|  loop auto-rewind stp(delay=0 clock cycles(s))|
    +---------+---------+----------+----------+-----+-----+------------------------------------------+

    + Detail: 
        * Instance: 
        N/A

        * Loop: 
        +----------+---------+---------+----------+-----------+-----------+------+----------+
        |          |  Latency (cycles) | Iteration|  Initiation Interval  | Trip |          |
        | Loop Name|   min   |   max   |  Latency |  achieved |   target  | Count| Pipelined|
        +----------+---------+---------+----------+-----------+-----------+------+----------+
        |- Loop 1  |        ?|        ?|         5|          1|          1|     ?|       yes|
        +----------+---------+---------+----------+-----------+-----------+------+----------+



================================================================
== Utilization Estimates
================================================================
* Summary: 
+-----------------+---------+-----+--------+-------+-----+
|       Name      | BRAM_18K| DSP |   FF   |  LUT  | URAM|
+-----------------+---------+-----+--------+-------+-----+
|Expression       |        -|    -|       0|     80|    -|
|Register         |        -|    -|      77|      -|    -|
+-----------------+---------+-----+--------+-------+-----+
|Total            |        0|    0|      77|     99|    0|
+-----------------+---------+-----+--------+-------+-----+
|Available        |      624|  1728|  460800| 230400|   96|
+-----------------+---------+-----+--------+-------+-----+
|Utilization (%)  |        0|    0|      ~0|     ~0|    0|
+-----------------+---------+-----+--------+-------+-----+
"""

# ------------------------------------------------------------------------------------------------
# Vitis HLS 2023+ summary csynth.rpt: the hierarchical table (+ module, o loop, * dataflow),
# Issue Type, Slack, %.3e latencies, "used (pct%)" resources.
# ------------------------------------------------------------------------------------------------
SUMMARY_RPT_2023 = """

================================================================
== Synthesis Summary Report of 'vit_top'
================================================================
+ General Information: 
    * Date:           Wed May  1 12:00:00 2024
    * Version:        2023.2 (Build 4023990 on Oct 11 2023)
    * Project:        vit_prj
    * Solution:       hls (Vivado IP Flow Target)
    * Product family: zynquplus
    * Target device:  xczu9eg-ffvb1156-2-e
    

+ Performance & Resource Estimates: 
    
    PS: '+' for module; 'o' for loop; '*' for dataflow
    +----------------------------+--------+-------+---------+-----------+----------+---------+------+----------+------------+-------------+---------------+--------------+-----+
    |           Modules          |  Issue |       | Latency |  Latency  | Iteration|         | Trip |          |            |             |               |              |     |
    |           & Loops          |  Type  | Slack | (cycles)|    (ns)   |  Latency | Interval| Count| Pipelined|    BRAM    |     DSP     |       FF      |      LUT     | URAM|
    +----------------------------+--------+-------+---------+-----------+----------+---------+------+----------+------------+-------------+---------------+--------------+-----+
    |+ vit_top                   |  Timing|  -0.21|   123456|  4.115e+05|         -|   123457|     -|        no|  400 (21%)|  2600 (103%)|  300000 (54%)|  99000 (36%)|    -|
    | + load_weights             |       -|   0.40|     2050|  6.833e+03|         -|     2050|     -|        no|           -|            -|    1200 (~0%)|    3300 (1%)|    -|
    |  o LOAD                    |      II|   2.10|     2048|  6.827e+03|         5|        2|  1024|       yes|           -|            -|             -|            -|    -|
    | + mlp*                     |       -|   0.00|    90000|  3.000e+05|         -|    45000|     -|  dataflow|  100 (5%)|   2048 (81%)|  150000 (27%)|  50000 (18%)|    -|
    |  + gemm                    |       -|   0.05|    44000|  1.467e+05|         -|    44000|     -|        no|  50 (2%)|   1024 (40%)|   70000 (12%)|  24000 (8%)|    -|
    |   o ROW                    |       -|   1.20|    43999|  1.467e+05|       687|        -|    64|        no|           -|            -|             -|            -|    -|
    |    o COL                   |       -|   1.20|      685|  2.283e+03|         7|        1|   680|       yes|           -|            -|             -|            -|    -|
    |  + gemm                    |       -|   0.05|    44000|  1.467e+05|         -|    44000|     -|        no|  50 (2%)|   1024 (40%)|   70000 (12%)|  24000 (8%)|    -|
    |   o ROW                    |       -|   1.20|    43999|  1.467e+05|       687|        -|    64|        no|           -|            -|             -|            -|    -|
    |    o COL                   |       -|   1.20|      685|  2.283e+03|         7|        1|   680|       yes|           -|            -|             -|            -|    -|
    +----------------------------+--------+-------+---------+-----------+----------+---------+------+----------+------------+-------------+---------------+--------------+-----+


================================================================
== HW Interfaces
================================================================
* AP_MEMORY
+-----------+----------+
| Interface | Bitwidth |
+-----------+----------+
| x_address0| 10       |
+-----------+----------+
"""

# ------------------------------------------------------------------------------------------------
# Vivado report_utilization: UltraScale+ (CLB, Prohibited column, fractional BRAM tiles, URAM)
# and 7-series (Slice, no Prohibited column, starred LUT row).
# ------------------------------------------------------------------------------------------------
UTIL_ULTRASCALE = """Copyright 1986-2022 Xilinx, Inc. All Rights Reserved.
---------------------------------------------------------------------------------------
| Tool Version : Vivado v.2023.1 (lin64) Build 3865809 Sun May  7 15:04:56 MDT 2023
| Date         : Thu Jun  1 08:00:00 2023
| Command      : report_utilization -file accel_utilization_placed.rpt
| Design       : accel_wrapper
| Device       : xczu9eg-ffvb1156-2-e
| Speed File   : -2
| Design State : Fully Placed
---------------------------------------------------------------------------------------

Utilization Design Information

Table of Contents
-----------------
1. CLB Logic
2. BLOCKRAM
3. ARITHMETIC

1. CLB Logic
------------

+----------------------------+--------+-------+------------+-----------+-------+
|          Site Type         |  Used  | Fixed | Prohibited | Available | Util% |
+----------------------------+--------+-------+------------+-----------+-------+
| CLB LUTs                   | 123456 |     0 |          0 |    274080 | 45.04 |
|   LUT as Logic             | 120000 |     0 |          0 |    274080 | 43.78 |
|   LUT as Memory            |   3456 |     0 |          0 |    144000 |  2.40 |
| CLB Registers              | 234567 |     0 |          0 |    548160 | 42.79 |
|   Register as Flip Flop    | 234567 |     0 |          0 |    548160 | 42.79 |
| CARRY8                     |     12 |     0 |          0 |     34260 |  0.04 |
+----------------------------+--------+-------+------------+-----------+-------+


2. BLOCKRAM
-----------

+-------------------+-------+-------+------------+-----------+-------+
|     Site Type     |  Used | Fixed | Prohibited | Available | Util% |
+-------------------+-------+-------+------------+-----------+-------+
| Block RAM Tile    | 411.5 |     0 |          0 |       912 | 45.12 |
|   RAMB36/FIFO*    |   400 |     0 |          0 |       912 | 43.86 |
|   RAMB18          |    23 |     0 |          0 |      1824 |  1.26 |
| URAM              |     0 |     0 |          0 |         0 |  0.00 |
+-------------------+-------+-------+------------+-----------+-------+


3. ARITHMETIC
-------------

+----------------+------+-------+------------+-----------+-------+
|    Site Type   | Used | Fixed | Prohibited | Available | Util% |
+----------------+------+-------+------------+-----------+-------+
| DSPs           | 2001 |     0 |          0 |      2520 | 79.40 |
|   DSP48E2 only | 2001 |       |            |           |       |
+----------------+------+-------+------------+-----------+-------+
"""

UTIL_7SERIES = """Copyright 1986-2019 Xilinx, Inc. All Rights Reserved.
------------------------------------------------------------------------------------
| Tool Version : Vivado v.2019.1 (lin64) Build 2552052 Fri May 24 14:47:09 MDT 2019
| Command      : report_utilization -file top_utilization_synth.rpt
| Design       : top
| Device       : 7z020clg400-1
| Design State : Synthesized
------------------------------------------------------------------------------------

Utilization Design Information

1. Slice Logic
--------------

+----------------------------+------+-------+-----------+-------+
|          Site Type         | Used | Fixed | Available | Util% |
+----------------------------+------+-------+-----------+-------+
| Slice LUTs*                |  777 |     0 |     53200 |  1.46 |
|   LUT as Logic             |  700 |     0 |     53200 |  1.32 |
| Slice Registers            |  888 |     0 |    106400 |  0.83 |
+----------------------------+------+-------+-----------+-------+

2. Memory
---------

+----------------+------+-------+-----------+-------+
|    Site Type   | Used | Fixed | Available | Util% |
+----------------+------+-------+-----------+-------+
| Block RAM Tile |    3 |     0 |       140 |  2.14 |
+----------------+------+-------+-----------+-------+

3. DSP
------

+----------------+------+-------+-----------+-------+
|    Site Type   | Used | Fixed | Available | Util% |
+----------------+------+-------+-----------+-------+
| DSPs           |    9 |     0 |       220 |  4.09 |
+----------------+------+-------+-----------+-------+
"""

# ------------------------------------------------------------------------------------------------
# Vivado report_timing_summary: a failing design (a value wider than its heading) and an
# unconstrained one (NA).
# ------------------------------------------------------------------------------------------------
TIMING_FAIL = """Copyright 1986-2022 Xilinx, Inc. All Rights Reserved.
------------------------------------------------------------------------------------
| Tool Version      : Vivado v.2022.2 (lin64) Build 3671981 Fri Oct 14 04:59:54 MDT 2022
| Command           : report_timing_summary -file accel_timing_summary_routed.rpt
| Design            : accel_wrapper
| Device            : xczu9eg-ffvb1156
------------------------------------------------------------------------------------

Timing Summary Report

------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
     -0.512   -12345.678                   4321                90000        0.011        0.000                      0                90000        0.958        0.000                       0                 40000  


Timing constraints are not met.


------------------------------------------------------------------------------------------------
| Clock Summary
| -------------
------------------------------------------------------------------------------------------------

Clock       Waveform(ns)         Period(ns)      Frequency(MHz)
-----       ------------         ----------      --------------
clk_pl_0    {0.000 1.667}        3.333           300.030         


------------------------------------------------------------------------------------------------
| Intra Clock Table
| -----------------
------------------------------------------------------------------------------------------------

Clock             WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
-----             -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
clk_pl_0           -0.512   -12345.678                   4321                90000        0.011        0.000                      0                90000        0.958        0.000                       0                 40000  
"""

TIMING_NA = """| Tool Version      : Vivado v.2020.2 (lin64) Build 3064766 Wed Nov 18 09:12:47 MST 2020
| Command           : report_timing_summary -file t.rpt
| Design            : comb_only

------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints  
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------  
         NA           NA                     NA                   NA           NA           NA                     NA                   NA           NA           NA                      NA                    NA  


There are no user specified timing constraints.
"""

# ------------------------------------------------------------------------------------------------
# C/RTL co-simulation: a pass with several transactions (intervals measured) and a failed run;
# and the raw lat.rpt.
# ------------------------------------------------------------------------------------------------
COSIM_PASS = """Report time       : Fri Feb  2 10:00:00 CET 2024.
Solution          : solution1.
Simulation tool   : xsim.

+----------+----------+-----------------------------------------------+-----------------------------------------------+----------------------+
|          |          |             Latency(Clock Cycles)             |              Interval(Clock Cycles)           | Total Execution Time |
+   RTL    +  Status  +-----------------------------------------------+-----------------------------------------------+    (Clock Cycles)    +
|          |          |      min      |      avg      |      max      |      min      |      avg      |      max      |                      |
+----------+----------+-----------------------------------------------+-----------------------------------------------+----------------------+
|      VHDL|        NA|             NA|             NA|             NA|             NA|             NA|             NA|                    NA|
|   Verilog|      Pass|          41000|          42500|          44000|          40000|          41250|          42500|                171002|
+----------+----------+-----------------------------------------------+-----------------------------------------------+----------------------+
"""

COSIM_FAIL = COSIM_PASS.replace(
    "|   Verilog|      Pass|          41000|          42500|          44000|          40000|          41250|          42500|"
    "                171002|",
    "|   Verilog|      Fail|             NA|             NA|             NA|             NA|             NA|             NA|"
    "                    NA|")

LAT_RPT = """$MAX_LATENCY = "777"
$MIN_LATENCY = "700"
$AVER_LATENCY = "740"
$MAX_THROUGHPUT = "0"
$MIN_THROUGHPUT = "0"
$AVER_THROUGHPUT = "0"
$TOTAL_EXECUTE_TIME = "2220"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_solution(root: Path, solution: str = "solution1") -> Path:
    """A Vivado HLS-style solution: per-function XML and text reports (no csynth.xml), a project
    file naming the top, and a co-simulation report.  Returns the project folder."""
    write(root, "demo.app", '<AutoPilot:project xmlns:AutoPilot="com.autoesl.autopilot.project" '
                            'projectType="C/C++" name="demo" top="conv">\n</AutoPilot:project>\n')
    rep = root / solution / "syn" / "report"
    write(rep, "conv_csynth.xml", VIVADO_XML)
    write(rep, "filter_csynth.rpt", VIVADO_RPT_2018)
    # the text report of conv: same numbers as its XML, with target IIs the XML does not keep
    write(rep, "conv_csynth.rpt", CONV_RPT)
    write(root / solution / "sim" / "report", "conv_cosim.rpt", COSIM_PASS)
    return root


CONV_RPT = """
================================================================
== Vivado HLS Report for 'conv'
================================================================
* Version:        2019.2 (Build 2704478 on Wed Nov 06 22:10:23 MST 2019)
* Target device:  xczu9eg-ffvb1156-2-e

================================================================
== Performance Estimates
================================================================
+ Timing: 
    * Summary: 
    +--------+---------+----------+------------+
    |  Clock |  Target | Estimated| Uncertainty|
    +--------+---------+----------+------------+
    |ap_clk  | 3.33 ns | 2.875 ns |   0.42 ns  |
    +--------+---------+----------+------------+

+ Latency: 
    * Summary: 
    +---------+---------+-----------+-----------+-----+------+---------+
    |  Latency (cycles) |   Latency (absolute)  |  Interval  | Pipeline|
    |   min   |   max   |    min    |    max    | min |  max |   Type  |
    +---------+---------+-----------+-----------+-----+------+---------+
    |       12|     4109| 39.960 ns | 13.683 us |   13|  4110|   none  |
    +---------+---------+-----------+-----------+-----+------+---------+

    + Detail: 
        * Loop: 
        +----------+---------+---------+----------+-----------+-----------+---------+----------+
        |          |  Latency (cycles) | Iteration|  Initiation Interval  |   Trip  |          |
        | Loop Name|   min   |   max   |  Latency |  achieved |   target  |  Count  | Pipelined|
        +----------+---------+---------+----------+-----------+-----------+---------+----------+
        |- ROWS    | 10 ~ 4096|  4096  |        64|          -|          -|  1 ~ 64 |    no    |
        | + INNER  |       61|       61|         3|          1|          1|       60|    yes   |
        |- COLS    |       40|       40|         5|          -|          -|        8|    no    |
        | + INNER  |        ?|        ?|         2|          2|          1|        4|    yes   |
        |- Loop 3  |        ?|        ?|         7|          -|          -|        ?|    no    |
        +----------+---------+---------+----------+-----------+-----------+---------+----------+

================================================================
== Utilization Estimates
================================================================
* Summary: 
+-----------------+---------+-------+--------+--------+-----+
|       Name      | BRAM_18K| DSP48E|   FF   |   LUT  | URAM|
+-----------------+---------+-------+--------+--------+-----+
|Total            |        6|     18|    1999|    2345|    0|
+-----------------+---------+-------+--------+--------+-----+
|Available        |     1824|   2520|  548160|  274080|    0|
+-----------------+---------+-------+--------+--------+-----+
"""


# ================================================================================================
# Tests
# ================================================================================================


@pytest.mark.parametrize("text,value", [
    ("1234", 1234), ("undef", None), ("?", None), ("-", None), ("NA", None), ("", None), ("2.5", 2.5),
    ("1.477e+06", 1477000), ("0 ~ 270", Span(0, 270)), ("3~3", 3), ("~0", 0), ("1,024", 1024),
])
def test_cell_values(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text,ns", [("10.00 ns", 10.0), ("0.340 us", 340.0), ("13.194 ms", 13194000.0),
                                     ("4.874", 4.874), ("undef", None)])
def test_times_in_ns(text, ns):
    assert parse_ns(text) == ns


def test_multi_line_table_headers_join_group_labels():
    (t,) = [t for t in read_tables(COSIM_PASS)]
    assert t.columns[:3] == ["rtl", "status", "latency(clock cycles) min"]
    assert t.columns[-1] == "total execution time (clock cycles)"
    assert t.rows[1][:3] == ["Verilog", "Pass", "41000"]


def test_vivado_xml(tmp_path):
    r = parse_csynth_xml(write(tmp_path, "conv_csynth.xml", VIVADO_XML))
    j = r.to_json()
    assert (j["tool"], j["version"], j["part"], j["top"]) == ("vivado_hls", "2019.2", "xczu9eg-ffvb1156-2-e", "conv")
    assert (j["clock_target_ns"], j["clock_estimated_ns"], r.clock_uncertainty_ns) == (3.33, 2.875, 0.42)
    assert j["latency_cycles"] == {"best": 12, "worst": 4109}
    assert r.latency.avg is None
    assert j["interval_cycles"] == {"min": 13, "max": 4110}
    assert j["resources"] == {"BRAM_18K": 6, "DSP": 18, "FF": 1999, "LUT": 2345, "URAM": 0}
    assert j["available"] == {"BRAM_18K": 1824, "DSP": 2520, "FF": 548160, "LUT": 274080, "URAM": 0}
    loops = {lp["path"]: lp for lp in j["loops"]}
    assert list(loops) == ["ROWS", "ROWS/INNER", "COLS", "COLS/INNER", "Loop3"]
    assert loops["ROWS"]["trip_count"] == {"min": 1, "max": 64}
    assert loops["ROWS"]["latency"] == {"min": 10, "max": 4096}
    assert loops["ROWS"]["pipeline_ii"] is None
    assert loops["ROWS/INNER"]["pipeline_ii"] == 1 and loops["ROWS/INNER"]["iteration_latency"] == 3
    assert loops["COLS/INNER"]["pipeline_ii"] == 2 and loops["COLS/INNER"]["latency"] is None
    assert loops["Loop3"]["trip_count"] is None and loops["Loop3"]["iteration_latency"] == 7
    assert all(lp["target_ii"] is None for lp in j["loops"])  # the XML keeps no target II
    assert r.clock_missed is False  # 2.875 <= 3.33 - 0.42


def test_vitis_xml_with_module_information(tmp_path):
    r = parse_csynth_xml(write(tmp_path, "csynth.xml", VITIS_XML))
    j = r.to_json()
    assert (j["tool"], j["version"], j["top"]) == ("vitis_hls", "2023.1", "accel")
    assert j["latency_cycles"] == {"best": None, "worst": None}
    assert j["interval_cycles"] == {"min": None, "max": None}
    assert j["resources"]["LUT"] == 150000 and j["resources"]["DSP"] == 300 and j["resources"]["URAM"] == 2
    assert [m["name"] for m in j["modules"]] == ["accel", "accel_Pipeline_MAC"]
    mac = j["modules"][1]
    assert mac["latency_cycles"] == {"best": 1030, "worst": 1030}
    assert mac["interval_cycles"] == {"min": 1030, "max": 1030}
    assert mac["available"]["BRAM_18K"] == 288 and mac["resources"]["DSP"] == 4
    assert mac["pipeline_type"] == "loop auto-rewind stp (delay=0 clock cycles(s))"
    assert j["modules"][0]["resources"]["LUT"] == 150002  # ModuleInformation's own count
    (loop,) = j["loops"]
    assert loop == {"name": "MAC", "module": "accel_Pipeline_MAC", "path": "MAC", "trip_count": 512,
                    "latency": 1028, "iteration_latency": 6, "pipeline_ii": 2, "target_ii": None}
    assert r.loops[0].slack_ns == 2.92
    assert r.clock_missed is True  # 3.104 > 4.00 - 1.08


def test_vivado_rpt_2018(tmp_path):
    r = parse_csynth_rpt(write(tmp_path, "filter_csynth.rpt", VIVADO_RPT_2018))
    j = r.to_json()
    assert (j["tool"], j["version"], j["part"], j["top"]) == ("vivado_hls", "2018.3", "xc7z020-clg400-1", "filter")
    assert (j["clock_target_ns"], j["clock_estimated_ns"], r.clock_uncertainty_ns) == (5.0, 4.321, 0.62)
    assert j["latency_cycles"] == {"best": 3001, "worst": 3001}
    assert j["interval_cycles"] == {"min": 3002, "max": 3002}
    assert r.pipeline_type == "none"
    assert j["resources"] == {"BRAM_18K": 1, "DSP": 2, "FF": 333, "LUT": 456, "URAM": 0}
    assert j["available"] == {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": 0}
    loops = {lp["path"]: lp for lp in j["loops"]}
    assert list(loops) == ["OUTER", "OUTER/INNER", "Loop2"]
    assert loops["OUTER/INNER"] == {"name": "INNER", "module": "filter", "path": "OUTER/INNER", "trip_count": 99,
                                    "latency": 298, "iteration_latency": 4, "pipeline_ii": 3, "target_ii": 1}
    assert loops["Loop2"]["trip_count"] == {"min": 0, "max": 10}
    assert loops["Loop2"]["latency"] == {"min": 0, "max": 20}
    assert [lp.name for lp in r.loops if lp.ii_above_target] == ["INNER"]


def test_vitis_rpt_2021(tmp_path):
    r = parse_csynth_rpt(write(tmp_path, "stream_sum_csynth.rpt", VITIS_RPT_2021))
    j = r.to_json()
    assert (j["tool"], j["version"], j["top"]) == ("vitis_hls", "2021.2", "stream_sum")
    assert (j["clock_target_ns"], j["clock_estimated_ns"]) == (10.0, 3.456)
    assert j["latency_cycles"] == {"best": None, "worst": None}
    assert j["interval_cycles"] == {"min": None, "max": None}
    assert r.pipeline_type == "loop auto-rewind stp(delay=0 clock cycles(s))"
    assert j["resources"] == {"BRAM_18K": 0, "DSP": 0, "FF": 77, "LUT": 99, "URAM": 0}
    assert j["available"]["URAM"] == 96
    (loop,) = j["loops"]
    assert (loop["name"], loop["trip_count"], loop["iteration_latency"], loop["pipeline_ii"]) == ("Loop1", None, 5, 1)


def test_summary_rpt_2023(tmp_path):
    r = parse_csynth_rpt(write(tmp_path, "csynth.rpt", SUMMARY_RPT_2023))
    j = r.to_json()
    assert (j["tool"], j["version"], j["top"], j["part"]) == ("vitis_hls", "2023.2", "vit_top", "xczu9eg-ffvb1156-2-e")
    assert j["clock_target_ns"] is None and j["clock_estimated_ns"] is None
    assert j["latency_cycles"] == {"best": None, "worst": 123456}
    assert j["interval_cycles"] == {"min": None, "max": 123457}
    assert j["resources"] == {"BRAM_18K": 400, "DSP": 2600, "FF": 300000, "LUT": 99000, "URAM": 0}
    assert j["available"] == {"BRAM_18K": None, "DSP": None, "FF": None, "LUT": None, "URAM": None}
    assert [m["name"] for m in j["modules"]] == ["vit_top", "load_weights", "mlp", "gemm"]
    assert j["modules"][2]["pipeline_type"] == "dataflow"
    paths = [(lp["module"], lp["path"]) for lp in j["loops"]]
    assert paths == [("load_weights", "LOAD"), ("gemm", "ROW"), ("gemm", "ROW/COL"), ("gemm", "ROW"), ("gemm", "ROW/COL")]
    load = j["loops"][0]
    assert (load["trip_count"], load["latency"], load["iteration_latency"], load["pipeline_ii"]) == (1024, 2048, 5, 2)
    assert [lp.name for lp in r.loops if lp.ii_above_target] == ["LOAD"]  # Issue Type II
    assert r.clock_missed is True  # Issue Type Timing


def test_utilization_ultrascale(tmp_path):
    u = parse_vivado_util(write(tmp_path, "accel_utilization_placed.rpt", UTIL_ULTRASCALE))
    j = u.to_json()
    assert (j["version"], j["design"], j["device"], j["design_state"]) == (
        "2023.1", "accel_wrapper", "xczu9eg-ffvb1156-2-e", "Fully Placed")
    assert j["resources"] == {"BRAM_18K": 823, "DSP": 2001, "FF": 234567, "LUT": 123456, "URAM": 0}
    assert j["available"] == {"BRAM_18K": 1824, "DSP": 2520, "FF": 548160, "LUT": 274080, "URAM": 0}
    assert j["bram_tiles"] == {"used": 411.5, "available": 912.0}


def test_utilization_7series(tmp_path):
    u = parse_vivado_util(write(tmp_path, "top_utilization_synth.rpt", UTIL_7SERIES))
    assert (u.version, u.device, u.state) == ("2019.1", "7z020clg400-1", "Synthesized")
    assert u.used == {"BRAM_18K": 6, "DSP": 9, "FF": 888, "LUT": 777, "URAM": None}
    assert u.available == {"BRAM_18K": 280, "DSP": 220, "FF": 106400, "LUT": 53200, "URAM": None}


def test_timing_summary_failing(tmp_path):
    t = parse_vivado_timing(write(tmp_path, "timing.rpt", TIMING_FAIL))
    assert (t.version, t.design) == ("2022.2", "accel_wrapper")
    assert (t.wns_ns, t.tns_ns, t.tns_failing_endpoints, t.whs_ns, t.wpws_ns) == (-0.512, -12345.678, 4321, 0.011, 0.958)
    assert t.constraints_met is False and t.clock_missed is True
    (clk,) = t.clocks
    assert (clk.name, clk.period_ns, clk.frequency_mhz, clk.wns_ns) == ("clk_pl_0", 3.333, 300.03, -0.512)


def test_timing_summary_unconstrained(tmp_path):
    t = parse_vivado_timing(write(tmp_path, "timing.rpt", TIMING_NA))
    assert t.wns_ns is None and t.clock_missed is None and t.clocks == []


def test_cosim_pass_and_fail(tmp_path):
    c = parse_cosim(write(tmp_path, "conv_cosim.rpt", COSIM_PASS))
    assert (c.solution, c.simulator, c.passed) == ("solution1", "xsim", True)
    m = c.main
    assert (m.language, m.latency_min, m.latency_avg, m.latency_max) == ("Verilog", 41000, 42500, 44000)
    assert (m.interval_min, m.interval_avg, m.interval_max, m.total_cycles) == (40000, 41250, 42500, 171002)
    f = parse_cosim(write(tmp_path, "bad_cosim.rpt", COSIM_FAIL))
    assert f.passed is False and f.main.latency_avg is None


def test_lat_rpt(tmp_path):
    c = parse_cosim(write(tmp_path / "verilog", "lat.rpt", LAT_RPT))
    m = c.main
    assert (m.language, m.latency_min, m.latency_avg, m.latency_max, m.total_cycles) == ("Verilog", 700, 740, 777, 2220)
    assert m.interval_max is None and c.passed is None


@pytest.mark.parametrize("name,text,parser,words", [
    ("trunc_csynth.xml", VIVADO_XML[: len(VIVADO_XML) // 2], parse_csynth_xml, "not well-formed XML"),
    ("other.xml", "<svg><g/></svg>", parse_csynth_xml, "not <profile>"),
    ("trunc_csynth.rpt", VIVADO_RPT_2018[: VIVADO_RPT_2018.index("|Total")], parse_csynth_rpt, "truncated"),
    ("cut_csynth.rpt", VIVADO_RPT_2018[: VIVADO_RPT_2018.index("| + INNER") + 20], parse_csynth_rpt, "truncated"),
    ("csynth.rpt", SUMMARY_RPT_2023[: SUMMARY_RPT_2023.index("| + mlp*")], parse_csynth_rpt, "truncated"),
    ("util.rpt", UTIL_7SERIES[: UTIL_7SERIES.index("| Slice Registers")], parse_vivado_util, "truncated"),
    ("timing.rpt", TIMING_FAIL[: TIMING_FAIL.index("     -0.512")], parse_vivado_timing, "truncated"),
    ("x_cosim.rpt", COSIM_PASS[: COSIM_PASS.index("|   Verilog")], parse_cosim, "truncated"),
    ("empty_csynth.xml", "", parse_csynth_xml, "empty"),
    ("blank.rpt", "\n\n  \n", parse_csynth_rpt, "empty"),
])
def test_broken_files_raise_user_errors_naming_the_file(tmp_path, name, text, parser, words):
    path = write(tmp_path, name, text)
    with pytest.raises(UserError) as err:
        parser(path)
    message = str(err.value)
    assert str(path) in message and words in message and "\n" not in message
